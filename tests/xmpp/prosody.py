#!/usr/bin/python3
"""Runs Debian's Prosody as a throwaway XMPP server for the federation tests (the Rust
integration tests and Playwright start it the same way): a generated config in DIR, plain TCP
on 127.0.0.1, a virtual host `localhost` with the given users (password = user name) and
offline storage, and the component `switchboard.localhost`. Never the system service.

The first run in DIR writes the config and registers the users; a later run (a restart)
keeps them and what Prosody stored. Prosody replaces this process (exec), so killing it
kills Prosody.
"""

import argparse
import os
import subprocess

HOST = "localhost"
COMPONENT = "switchboard.localhost"
SECRET = "component-secret-for-tests"

CONFIG = """\
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
certificates = "{dir}/certs"
run_as_root = true
log = {{ debug = "{dir}/prosody.log" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ }}
component_ports = {{ {component} }}
component_interface = "127.0.0.1"
s2s_ports = {{ }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "offline"; "posix" }}
modules_disabled = {{ "s2s"; "tls" }}
VirtualHost "{host}"
Component "{component_domain}"
    component_secret = "{secret}"
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--c2s-port", type=int, required=True)
    parser.add_argument("--component-port", type=int, required=True)
    parser.add_argument("--users", default="", help="comma-separated user names")
    args = parser.parse_args()
    config = os.path.join(args.dir, "prosody.cfg.lua")
    if not os.path.exists(config):
        for sub in ("data", "certs"):
            os.makedirs(os.path.join(args.dir, sub), exist_ok=True)
        with open(os.path.join(args.dir, "secret"), "w") as secret:
            secret.write(SECRET + "\n")
        with open(config, "w") as out:
            out.write(CONFIG.format(dir=args.dir, c2s=args.c2s_port,
                                    component=args.component_port, host=HOST,
                                    component_domain=COMPONENT, secret=SECRET))
        for user in filter(None, args.users.split(",")):
            subprocess.run(["prosodyctl", "--config", config, "register", user, HOST, user],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.execv("/usr/bin/prosody", ["prosody", "--config", config, "-F"])


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""A scripted XMPP user in a standard client library (slixmpp, Debian's python3-slixmpp),
for the federation tests (Rust integration tests, Playwright, the chaos test).

It signs in to the XMPP server over plain TCP on 127.0.0.1, approves presence subscriptions,
and speaks JSON lines: commands on stdin, events on stdout.

Commands: {"say": {"to", "id", "body"}} (with a receipt request, markable, origin-id),
{"signal": {"to", "xml"}} (a message with one payload: receipt, marker, chat state),
{"raw": "<xml/>"}, {"presence": {"show": null|"away"|"xa"|"dnd"|"chat"}},
{"subscribe": {"to"}}, {"quit": true}.

Events: {"event": "online"}, {"event": "message", "from", "type", "id", "origin_id",
"body", "received", "displayed", "composing", "error"}, {"event": "presence", "from", "type"}
(type: available, away, xa, dnd, chat, unavailable, subscribed...), {"event": "disconnected"}.
"""

import argparse
import asyncio
import json
import sys

import slixmpp
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath


def emit(event):
    print(json.dumps(event), flush=True)


class ScriptedUser(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        # A user who accepts every contact that asks to see their presence.
        self.roster.auto_authorize = True
        self.roster.auto_subscribe = False
        self.add_event_handler("session_start", self.on_start)
        # Every message, with a body or not (slixmpp's "message" event is for bodies only).
        self.register_handler(Callback(
            "every message", MatchXPath("{jabber:client}message"), self.on_message))
        self.add_event_handler("presence", self.on_presence)
        self.add_event_handler("disconnected", lambda _: emit({"event": "disconnected"}))
        self.add_event_handler("failed_auth", lambda _: emit({"event": "failed_auth"}))

    async def on_start(self, _):
        # The roster first: the server then resends pending subscription requests at the
        # initial presence, as it does for any client that shows a roster.
        await self.get_roster()
        self.send_presence()
        emit({"event": "online"})

    def on_message(self, msg):
        xml = msg.xml

        def child(name, ns):
            return xml.find("{%s}%s" % (ns, name))

        def child_id(name, ns):
            found = child(name, ns)
            return None if found is None else found.get("id")

        error = child("error", "jabber:client")
        condition = None
        if error is not None and len(error):
            condition = error[0].tag.split("}")[-1]
        body = child("body", "jabber:client")
        emit({
            "event": "message",
            "from": str(msg["from"]),
            "type": msg["type"],
            "id": msg["id"] or None,
            "origin_id": child_id("origin-id", "urn:xmpp:sid:0"),
            "body": None if body is None else (body.text or ""),
            "received": child_id("received", "urn:xmpp:receipts"),
            "displayed": child_id("displayed", "urn:xmpp:chat-markers:0"),
            "composing": child("composing", "http://jabber.org/protocol/chatstates") is not None,
            "error": condition,
        })

    def on_presence(self, presence):
        emit({
            "event": "presence",
            "from": str(presence["from"]),
            "type": presence["type"],
        })

    def say(self, to, id, body):
        msg = self.make_message(mto=to, mbody=body, mtype="chat")
        msg["id"] = id
        for xml in (
            "<request xmlns='urn:xmpp:receipts'/>",
            "<markable xmlns='urn:xmpp:chat-markers:0'/>",
            "<origin-id xmlns='urn:xmpp:sid:0' id='%s'/>" % id,
        ):
            msg.append(ET.fromstring(xml))
        msg.send()

    def signal(self, to, xml):
        msg = self.make_message(mto=to, mtype="chat")
        msg.append(ET.fromstring(xml))
        msg.send()


async def commands(user):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        command = json.loads(line)
        if "say" in command:
            user.say(**command["say"])
        elif "signal" in command:
            user.signal(**command["signal"])
        elif "raw" in command:
            user.send_raw(command["raw"])
        elif "presence" in command:
            user.send_presence(pshow=command["presence"].get("show"))
        elif "subscribe" in command:
            user.send_presence_subscription(pto=command["subscribe"]["to"])
        elif "quit" in command:
            break
    user.disconnect()
    try:
        await asyncio.wait_for(user.disconnected, 3)
    except asyncio.TimeoutError:
        pass  # the server is gone already


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--server", required=True, help="host:port of the client port")
    args = parser.parse_args()
    host, port = args.server.rsplit(":", 1)
    user = ScriptedUser(args.jid, args.password)
    # Plain TCP on loopback, as the test's XMPP server offers it.
    user["feature_mechanisms"].unencrypted_plain = True
    user.connect(address=(host, int(port)), use_ssl=False, force_starttls=False,
                 disable_starttls=True)
    asyncio.get_event_loop().run_until_complete(commands(user))


if __name__ == "__main__":
    main()

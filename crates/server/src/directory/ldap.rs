//! placeholder: written by the LDAP work

#!/usr/bin/python3
"""A slixmpp (Debian python3-slixmpp 1.8) newcomer, for the onboarding interop tests.

Run with Debian's /usr/bin/python3. Connects to an explicit host and port over STARTTLS
(certificate verification off: the test server's certificate is self-signed) and goes through
what a new user's client does, in one run, printing one JSON event per line on stdout:

  1. In-band registration with slixmpp's XEP-0077 plugin (the stream feature starts it). With
     --preauth TOKEN it first presents an invitation token (XEP-0445: <preauth xmlns='urn:xmpp:pars:0'/>
     in an iq, answered before anything else) and asks for the registration fields again. It then
     fills in the data form the server offers (slixmpp's XEP-0004 Form: set_values, type submit),
     or with --legacy (or without a form) the legacy <username/> and <password/>.
     Events: preauth {ok, condition}, form {instructions, fields, legacy}, registered, register_error
     {condition, text}; after a refused preauth or registration the agent exits 0.
  2. Login with the new account (slixmpp's SASL): session {jid}.
  3. With --new-password PW: a password change with XEP-0077 §3.3's form (FORM_TYPE
     jabber:iq:register:changepassword, old_password from --password): password_changed or
     password_error {condition}.
  4. With --disco: the server's disco#info read with slixmpp's XEP-0030 and XEP-0128 plugins:
     disco {forms: [{FORM_TYPE: [...], field: [...]}]}.
  Then it disconnects: done.
"""
import argparse
import json
import logging
import os
import ssl
import sys

from slixmpp import ClientXMPP, JID
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins.xep_0004 import Form
from slixmpp.xmlstream import ET

PARS = "urn:xmpp:pars:0"
CHANGE_PASSWORD = "jabber:iq:register:changepassword"


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def finish(code=0):
    sys.stdout.flush()
    os._exit(code)


def error_of(e):
    return {"condition": e.iq["error"]["condition"], "text": e.iq["error"]["text"]}


class Newcomer(ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.ssl_context = ssl.create_default_context()
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        # slixmpp 1.8 binds SCRAM-*-PLUS to tls-unique, which TLS 1.3 does not have (RFC 9266).
        self.ssl_context.maximum_version = ssl.TLSVersion.TLSv1_2
        self.whitespace_keepalive = False
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0004")
        self.register_plugin("xep_0128")
        self.register_plugin("xep_0077")
        # slixmpp creates an account only when someone handles the 'register' event.
        self["xep_0077"].create_account = True
        # slixmpp 1.8.3 holds back every stanza sent before the session starts except the bind and
        # session iqs (XMLStream.send: "NOT SENT"), its own XEP-0077 plugin's registration iqs
        # included, so that registration never goes out. This lets stanzas through before the
        # session, which is what the pre-session registration needs (nothing else is sent then).
        self._always_send_everything = True
        self.add_event_handler("register", self.on_register)
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_all_auth", lambda _e: (emit("auth_failure"), finish(0)))
        self.add_event_handler("disconnected", lambda reason: (emit("disconnected", reason=str(reason or "")), finish(2)))
        self.add_event_handler("connection_failed", lambda reason: (emit("error", text=str(reason)), finish(2)))

    async def get_dns_records(self, domain, port=None):
        return [(domain, self.args.host, self.args.port)]

    async def on_register(self, offer):
        # slixmpp goes on to SASL whatever this handler does: a failure here ends the agent.
        try:
            await self.register_account(offer)
        except Exception as e:  # noqa: BLE001 - reported, then the agent ends
            emit("error", text=f"{type(e).__name__}: {e}")
            finish(2)

    async def register_account(self, offer):
        if self.args.preauth:
            iq = self.Iq(stype="set", sto=self.boundjid.domain)
            iq.append(ET.Element(f"{{{PARS}}}preauth", token=self.args.preauth))
            try:
                await iq.send(timeout=10)
            except IqError as e:
                emit("preauth", ok=False, **error_of(e))
                finish(0)
            emit("preauth", ok=True)
            # XEP-0445: the token first, then the registration as XEP-0077 has it.
            offer = await self["xep_0077"].get_registration(timeout=10)
        form = offer["register"]["form"]
        has_form = form.xml.find("{jabber:x:data}field") is not None
        emit("form", instructions=offer["register"]["instructions"], legacy=sorted(offer["register"]["fields"]),
             fields=[{"var": f["var"], "type": f["type"], "required": f["required"], "value": f["value"]} for f in form.get_fields().values()] if has_form else [])
        resp = self.Iq(stype="set")
        if has_form and not self.args.legacy:
            form.set_values({"username": self.boundjid.user, "password": self.password})
            form.set_type("submit")
            resp["register"].append(form)
        else:
            resp["register"]["username"] = self.boundjid.user
            resp["register"]["password"] = self.password
        try:
            await resp.send(timeout=10)
        except IqError as e:
            emit("register_error", **error_of(e))
            finish(0)
        emit("registered", form=has_form and not self.args.legacy)

    async def on_session_start(self, _event):
        emit("session", jid=str(self.boundjid))
        try:
            if self.args.new_password:
                await self.change_password_with_form()
            if self.args.disco:
                info = await self["xep_0030"].get_info(jid=JID(self.boundjid.domain), timeout=10)
                forms = [f.get_values() for f in info["disco_info"].iterables if isinstance(f, Form)]
                emit("disco", forms=forms)
        except IqTimeout:
            emit("error", text="timeout")
        emit("done")
        finish(0)

    async def change_password_with_form(self):
        form = self["xep_0004"].make_form(ftype="submit")
        form.add_field(var="FORM_TYPE", ftype="hidden", value=CHANGE_PASSWORD)
        form.add_field(var="username", value=self.boundjid.bare)
        form.add_field(var="old_password", value=self.password)
        form.add_field(var="password", value=self.args.new_password)
        iq = self.Iq(stype="set", sto=self.boundjid.domain)
        iq["register"].append(form)
        try:
            await iq.send(timeout=10)
            emit("password_changed")
        except IqError as e:
            emit("password_error", **error_of(e))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("--preauth")
    p.add_argument("--legacy", action="store_true")
    p.add_argument("--new-password")
    p.add_argument("--disco", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    xmpp = Newcomer(args)
    xmpp.connect((args.host, args.port), force_starttls=True)
    xmpp.loop.call_later(args.timeout, lambda: (emit("timeout"), finish(3)))
    xmpp.loop.run_forever()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""An nbxmpp (Debian python3-nbxmpp 4.2, Gajim's library) client driven over stdin, for interop tests.

Run with Debian's /usr/bin/python3. nbxmpp runs on the GLib main loop and connects with Gio. The
address is given as a custom host, which replaces SRV and host-meta lookups; with --direct-tls
the connection is XEP-0368 direct TLS, else STARTTLS. Certificate errors are ignored because
the test server's certificate is self-signed.

stdin: one JSON command per line, {"cmd": ...}: roster, presence [show, status],
subscribe {to}, approve {to}, message {to, body, id}, quit.
stdout: one JSON event per line, {"event": ...}: session, roster, roster_push, presence,
message, auth, disconnected, timeout, error. The process exits non-zero if it has not been
told to quit within --timeout seconds, or if the connection ends before that.
"""
import argparse
from base64 import b64encode
import json
import logging
import os
import re
import sys

from gi.repository import GLib

from nbxmpp.client import Client
from nbxmpp.const import ConnectionProtocol, ConnectionType
from nbxmpp.namespaces import Namespace
from nbxmpp.modules.omemo import create_omemo_message
from nbxmpp.protocol import JID, Message
from nbxmpp.structs import OMEMOBundle, OMEMOMessage, StanzaHandler


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


class Agent:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.quitting = False
        self.mechanism = None
        self.offered = None
        user, _, rest = args.jid.partition("@")
        domain, _, resource = rest.partition("/")
        c = self.client = Client(log_context=user)
        c.set_domain(domain)
        c.set_username(user)
        c.set_resource(resource or "nbxmpp")
        c.set_password(args.password)
        kind = ConnectionType.DIRECT_TLS if args.direct_tls else ConnectionType.START_TLS
        c.set_connection_types([kind])
        # A custom host replaces every SRV, host-meta and fallback address.
        c.set_custom_host(f"{args.host}:{args.port}", ConnectionProtocol.TCP, kind)
        c.set_ignore_tls_errors(True)
        c.subscribe("connected", self.on_connected)
        c.subscribe("disconnected", self.on_disconnected)
        c.subscribe("connection-failed", self.on_connection_failed)
        c.subscribe("stanza-sent", self.on_sent)
        c.subscribe("stanza-received", self.on_received)
        c.register_handler(StanzaHandler(name="message", callback=self.on_message))
        c.register_handler(StanzaHandler(name="presence", callback=self.on_presence))
        c.register_handler(StanzaHandler(name="iq", typ="set", ns=Namespace.ROSTER, callback=self.on_roster_push))

    def on_sent(self, _client, _signal, data):
        m = re.search(r"<auth [^>]*mechanism=[\"']([^\"']+)", str(data))
        if m:
            self.mechanism = m.group(1)

    def on_received(self, _client, _signal, data):
        # The pre-authentication stream features list the SASL mechanisms on offer.
        if self.offered is None and "<mechanisms" in str(data):
            self.offered = sorted(re.findall(r"<mechanism>([^<]+)</mechanism>", str(data)))

    def on_connected(self, client, _signal):
        emit("session", jid=str(client.get_bound_jid()), mechanism=self.mechanism,
             offered=self.offered,
             direct_tls=client.current_connection_type == ConnectionType.DIRECT_TLS,
             tls=getattr(client.tls_version, "value_nick", str(client.tls_version)))

    def on_connection_failed(self, client, _signal):
        emit("error", where="connect", text=str(client.get_error()))
        self.finish(2)

    def on_disconnected(self, client, _signal):
        domain, error, text = client.get_error()
        emit("disconnected", reason=" ".join(str(x) for x in (domain, error, text) if x), expected=self.quitting)
        self.finish(0 if self.quitting else 2)

    def on_message(self, _client, stanza, properties):
        # properties.omemo: nbxmpp's OMEMO module (Gajim's) parsed <encrypted/> (eu.siacs.conversations.axolotl).
        omemo = properties.omemo
        emit("message", **{"from": str(stanza.getFrom()), "to": str(stanza.getTo()), "type": stanza.getType(),
                           "id": stanza.getID(), "body": stanza.getBody(),
                           "omemo": None if omemo is None else {"sid": omemo.sid, "rids": sorted(omemo.keys),
                                                               "payload": b64encode(omemo.payload).decode()},
                           "delayed": stanza.getTag("delay", namespace="urn:xmpp:delay") is not None})

    def on_presence(self, _client, stanza, _properties):
        emit("presence", **{"from": str(stanza.getFrom()), "to": str(stanza.getTo()),
                            "type": stanza.getType() or "available", "status": stanza.getStatus() or ""})

    def on_roster_push(self, _client, _stanza, properties):
        if properties.roster is not None:
            emit("roster_push", items=[item_json(properties.roster.item)])

    def on_roster(self, task):
        try:
            data = task.finish()
            # nbxmpp always asks with ver="" (or none), so the answer is the whole roster.
            emit("roster", ver=data.version, items=[item_json(i) for i in data.items or []])
        except Exception as err:  # a stanza error or a parse failure: report it, the test decides
            emit("error", where="roster", text=repr(err))

    def run_command(self, cmd):
        name = cmd.get("cmd")
        presence = self.client.get_module("BasePresence")
        if name == "roster":
            self.client.get_module("Roster").request_roster(callback=self.on_roster)
        elif name == "presence":
            presence.send(show=cmd.get("show"), status=cmd.get("status"))
        elif name == "subscribe":
            presence.subscribe(cmd["to"])
        elif name == "approve":
            presence.subscribed(cmd["to"])
        elif name == "message":
            msg = Message(to=cmd["to"], body=cmd["body"], typ="chat")
            if "id" in cmd:
                msg.setID(cmd["id"])
            self.client.send_stanza(msg)
        # OMEMO (XEP-0384, legacy namespace) through nbxmpp's own OMEMO module, as Gajim uses it. The
        # key material is random bytes of the right sizes, not keys from a Signal implementation.
        elif name == "omemo_publish":
            omemo = self.client.get_module("OMEMO")
            device = cmd["device"]
            bundle = OMEMOBundle(spk={"id": 1, "key": b"\x05" + os.urandom(32)}, spk_signature=os.urandom(64),
                                 ik=b"\x05" + os.urandom(32),
                                 otpks=[{"id": i, "key": b"\x05" + os.urandom(32)} for i in range(1, 101)])
            # nbxmpp keeps weak references to callbacks: bound methods, with the detail as user_data.
            omemo.set_devicelist([device], public=True, callback=self.published, user_data="devicelist")
            omemo.set_bundle(bundle, device, public=True, callback=self.published, user_data="bundle")
        elif name == "omemo_fetch":
            self.client.get_module("OMEMO").request_devicelist(JID.from_string(cmd["jid"]), callback=self.on_devicelist, user_data=cmd["jid"])
        elif name == "omemo_send":
            msg = Message(to=cmd["to"], typ="chat")
            msg.setID(cmd["id"])
            create_omemo_message(msg, OMEMOMessage(sid=cmd["sid"], iv=os.urandom(12),
                                                   keys={cmd["rid"]: (os.urandom(32), True)},
                                                   payload=cmd["payload"].encode()))
            self.client.send_stanza(msg)
        elif name == "quit":
            self.quitting = True
            self.client.disconnect()
        else:
            emit("error", where="command", text=f"unknown command {name!r}")

    def published(self, task):
        what = task.get_user_data()
        try:
            task.finish()
            emit("published", what=what)
        except Exception as err:
            emit("error", where=f"publish {what}", text=repr(err))

    def on_devicelist(self, task):
        jid = task.get_user_data()
        try:
            devices = task.finish()
        except Exception as err:
            emit("error", where="devicelist", text=repr(err))
            return
        self.client.get_module("OMEMO").request_bundle(JID.from_string(jid), devices[0],
                                                      callback=self.on_bundle, user_data=devices)

    def on_bundle(self, task):
        devices = task.get_user_data()
        try:
            bundle = task.finish()
            emit("bundle", devices=devices, ik=len(bundle.ik), spk=len(bundle.spk["key"]),
                 signature=len(bundle.spk_signature), prekeys=len(bundle.otpks))
        except Exception as err:
            emit("error", where="bundle", text=repr(err))

    def on_stdin(self, fd, _condition, buf):
        chunk = os.read(fd, 65536)
        if not chunk:  # the test went away: leave quietly
            self.quitting = True
            self.client.disconnect()
            return False
        buf.extend(chunk)
        while b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            if line.strip():
                try:
                    self.run_command(json.loads(line))
                except Exception as err:
                    emit("error", where="command", text=repr(err))
        return True

    def finish(self, code):
        sys.stdout.flush()
        os._exit(code)


def item_json(item):
    return {"jid": str(item.jid), "subscription": item.subscription, "ask": item.ask,
            "name": item.name, "groups": sorted(item.groups)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--direct-tls", action="store_true")
    p.add_argument("--timeout", type=float, default=20)
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")

    agent = Agent(args)

    def on_timeout():
        emit("timeout", seconds=args.timeout)
        agent.finish(3)

    GLib.timeout_add(int(args.timeout * 1000), on_timeout)
    GLib.io_add_watch(sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP,
                      agent.on_stdin, bytearray())
    agent.client.connect()
    agent.loop.run()


if __name__ == "__main__":
    main()

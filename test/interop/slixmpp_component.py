#!/usr/bin/python3
"""An external component (XEP-0114) with Debian's python3-slixmpp (1.8): ComponentXMPP, the class
gateways built on slixmpp (Slidge) use. Driven like slixmpp_client.py (agent.ts): --jid is the
component's domain, --password its secret, --host and --port the server's component listener.

It echoes: a chat message to any address at its domain comes back to its sender from that
address, with "echo: " before the body. It answers disco#info on its domain with a gateway
identity (slixmpp's XEP-0030 plugin).

stdin: one JSON command per line: {"cmd": "quit"} closes the stream and exits 0.
stdout: one JSON event per line: session (the handshake was accepted), message (one it echoed),
disconnected, timeout, error. Exits non-zero if not told to quit within --timeout seconds, or if
the connection ends before that.
"""
import argparse
import json
import logging
import os
import sys

from slixmpp.componentxmpp import ComponentXMPP


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


class EchoComponent(ComponentXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password, args.host, args.port)
        self.quitting = False
        self.whitespace_keepalive = False
        self.register_plugin("xep_0030")
        self["xep_0030"].add_identity(category="gateway", itype="echo", name="Echo gateway")
        self.add_event_handler("session_start", lambda _e: emit("session", jid=str(self.boundjid)))
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("disconnected", self.on_disconnected)
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("stream_error", lambda err: emit("error", where="stream", condition=err["condition"], text=err["text"]))

    def on_message(self, msg):
        if msg["type"] not in ("chat", "normal") or not msg["body"]:
            return
        emit("message", **{"from": str(msg["from"]), "to": str(msg["to"]), "id": msg["id"], "body": msg["body"]})
        reply = self.make_message(mto=msg["from"], mfrom=msg["to"], mbody="echo: " + msg["body"], mtype="chat")
        reply["id"] = "echo-" + msg["id"]
        reply.send()

    def on_disconnected(self, reason):
        emit("disconnected", reason=str(reason or ""), expected=self.quitting)
        self.finish(0 if self.quitting else 2)

    def on_connection_failed(self, reason):
        emit("error", where="connect", text=str(reason))
        self.finish(2)

    def finish(self, code):
        sys.stdout.flush()
        os._exit(code)

    def on_stdin(self, fd, buf):
        chunk = os.read(fd, 65536)
        if not chunk:  # the test went away: leave quietly
            self.loop.remove_reader(fd)
            self.quitting = True
            self.disconnect()
            return
        buf.extend(chunk)
        while b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            if line.strip() and json.loads(line).get("cmd") == "quit":
                self.quitting = True
                self.disconnect()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--timeout", type=float, default=20)
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")

    component = EchoComponent(args)
    loop = component.loop

    def on_timeout():
        emit("timeout", seconds=args.timeout)
        component.finish(3)

    loop.call_later(args.timeout, on_timeout)
    loop.add_reader(sys.stdin.fileno(), component.on_stdin, sys.stdin.fileno(), bytearray())
    component.connect()
    loop.run_forever()


if __name__ == "__main__":
    main()

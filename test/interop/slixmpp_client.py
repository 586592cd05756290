#!/usr/bin/python3
"""A slixmpp (Debian python3-slixmpp 1.8) client driven over stdin, for interop tests.

Run with Debian's /usr/bin/python3. Connects to an explicit host and port (no SRV or A lookups:
the address is given), over STARTTLS or, with --direct-tls, XEP-0368 direct TLS. Certificate
verification is off because the test server's certificate is self-signed.

stdin: one JSON command per line, {"cmd": ...}:
  roster [ver]                  fetch the roster (RFC 6121 §2.2) as slixmpp does (versioned once
                                it has a version), or with this exact ver ("" for all of it)
  presence [show, status]       send available presence
  subscribe {to}                request a subscription (RFC 6121 §3.1)
  approve {to}                  approve a pending inbound request ("subscribed")
  roster_set {jid, name?, groups?}  add or change a roster item (RFC 6121 §2.3) with slixmpp's update_roster
  vcard_set {fn, nickname?}     publish the account's vCard (XEP-0054) with the xep_0054 plugin
  vcard_get {jid?}              read a vCard (one's own without jid) from the server, not from the cache
  bookmarks_set {room, name, nick}  store XEP-0048 bookmarks in private XML storage (XEP-0049)
  bookmarks_get                 read them back from private XML storage
  avatar_publish {data}         publish an avatar (XEP-0084): base64 data, then its metadata
  pep_items {jid, node}         read a PEP node's items (XEP-0060 §6.5)
  message {to, body, id, receipt?, markable?, oob?}  send a chat message; receipt asks for a
                                delivery receipt (XEP-0184), markable allows chat markers
                                (XEP-0333), oob attaches a URL (XEP-0066)
  marker {to, id, marker}       send a chat marker (XEP-0333): received, displayed or acknowledged
  upload {service, filename, data, content_type?}  ask the service for a slot (XEP-0363), PUT the
                                text `data` with the slot's headers, report the GET URL
  mam {with?, max?, jid?}       read the whole archive (XEP-0313), paging with RSM by max; jid: a
                                room's archive instead of the account's
  muc_create {room, nick}       enter a new room with the XEP-0045 plugin and accept the default
                                configuration (an instant room, §10.1.2)
  muc_join {room, nick, maxstanzas?}  enter with join_muc_wait: occupants, history, subject
                                (a refusal comes as a presence event of type error)
  muc_say {room, body, id?}     send a groupchat message
  muc_leave {room, nick}        leave the room (the room's answer comes as a presence event)
  s5b_accept {path}             take the next SOCKS5 bytestream offered (XEP-0065, through the
                                plugin's proxy support) and write what it carries to path
  s5b_send {to, path}           send the file at path to a full JID over a SOCKS5 bytestream
                                through the proxies the plugin discovers on the server
  quit                          close the stream and exit 0
Flags: --sm (stream management, XEP-0198: on a lost connection it reconnects and resumes),
--receipts (acknowledge receipt requests as clients do, XEP-0184; read chat markers, XEP-0333),
--direct-tls, --tls12 (cap TLS at 1.2, where tls-unique exists), --no-channel-binding and
--mechanism NAME (to pin the SASL mechanism).
stdout: one JSON event per line, {"event": ...}: session, roster, roster_push, presence,
message, message_error, receipt, marker, uploaded, groupchat, muc_created, muc_joined, mam, s5b_proxies, s5b_stream, s5b_received, s5b_sent,
sm_enabled, resumed, sm_failed, auth_failure, disconnected, timeout, error. The process exits non-zero if it has not
been told to quit within --timeout seconds, or if the connection ends before that.
"""
import argparse
import asyncio
import hashlib
import json
import logging
import os
import ssl
import sys
import urllib.error
import urllib.request

from base64 import b64decode, b64encode
from xml.etree import ElementTree as ET

from slixmpp import JID, ClientXMPP
from slixmpp.plugins.xep_0004 import Form
from slixmpp.plugins.xep_0048 import Bookmarks
from slixmpp.plugins.xep_0066.stanza import OOB
from slixmpp.stanza import Message
from slixmpp.xmlstream import register_stanza_plugin
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


class Agent(ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.quitting = False
        # Subscriptions are answered by explicit commands, never automatically.
        self.auto_authorize = None
        self.auto_subscribe = False
        # Self-signed test certificate: no chain or name check.
        self.ssl_context = ssl.create_default_context()
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        if args.tls12:
            self.ssl_context.maximum_version = ssl.TLSVersion.TLSv1_2
        if args.no_channel_binding:
            self.withhold_channel_binding()
        if args.mechanism:
            self["feature_mechanisms"].use_mech = args.mechanism
        self.whitespace_keepalive = False
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        self.add_event_handler("roster_update", self.on_roster_update)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("disconnected", self.on_disconnected)
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("stream_error", self.on_stream_error)
        self.register_handler(Callback("all presence", StanzaPath("presence"), self.on_presence))
        self.register_plugin("xep_0313")
        self.register_plugin("xep_0060")
        self.register_plugin("xep_0045")
        self.register_plugin("xep_0065")
        self.add_event_handler("groupchat_message", self.on_groupchat)
        self.add_event_handler("message_error", self.on_message_error)
        register_stanza_plugin(Message, OOB)
        if args.receipts:
            self.register_plugin("xep_0184")  # auto_ack: each request answered with <received/>
            self.register_plugin("xep_0333")
            self.add_event_handler("receipt_received", lambda msg: emit("receipt", **{"from": str(msg["from"]), "id": msg["receipt"]}))
            for marker in ("received", "displayed", "acknowledged"):
                self.add_event_handler(f"marker_{marker}", lambda msg, m=marker: emit("marker", **{"from": str(msg["from"]), "marker": m, "id": msg[m]["id"]}))
        if args.sm:
            self.register_plugin("xep_0198")
            self.add_event_handler("sm_enabled", lambda st: emit("sm_enabled", id=st["id"], resume=st["resume"]))
            self.add_event_handler("session_resumed", lambda st: emit("resumed", h=st["h"]))
            self.add_event_handler("sm_failed", lambda st: emit("sm_failed"))
        # Whether each iq result carried a roster <query/>, noted before slixmpp's handlers look
        # at it (reading iq["roster"] adds an empty one).
        self.roster_results = {}
        self.add_filter("in", self.note_roster_result)

    def use(self, name):
        """A plugin the migration commands need, registered when first used: registered at start,
        XEP-0084's would add urn:xmpp:avatar:metadata+notify to every test's caps."""
        if name not in self.plugin:
            self.register_plugin(name)
        return self[name]

    def withhold_channel_binding(self):
        # Without channel-binding data slixmpp sends the gs2 flag "n" (client does not support
        # channel binding) instead of "y". It still tries the -PLUS mechanisms first (with "n",
        # which a server refuses), so pair this with --mechanism.
        mechs = self["feature_mechanisms"]
        default = mechs.sasl_callback

        def credentials(required, optional):
            values = default(required, optional)
            values.pop("channel_binding", None)
            return values

        mechs.sasl_callback = credentials

    def note_roster_result(self, stanza):
        if stanza.xml.tag == "{jabber:client}iq" and stanza.xml.get("type") == "result":
            self.roster_results[stanza.xml.get("id")] = stanza.xml.find("{jabber:iq:roster}query") is not None
        return stanza

    async def get_dns_records(self, domain, port=None):
        # The address is given: never ask DNS (slixmpp would otherwise resolve the JID's domain).
        return [(domain, self.args.host, self.args.port)]

    def tls_version(self):
        obj = self.transport.get_extra_info("ssl_object") if self.transport else None
        return obj.version() if obj else None

    async def on_session_start(self, _event):
        mechs = self["feature_mechanisms"]
        emit("session", jid=str(self.boundjid), mechanism=mechs.mech.name if mechs.mech else None,
             offered=sorted(mechs.mech_list), tls=self.tls_version(), direct_tls=self.use_ssl)

    def on_failed_auth(self, stanza):
        emit("auth_failure", mechanism=self["feature_mechanisms"].mech.name,
             condition=stanza["condition"], text=stanza["text"])

    def on_roster_update(self, iq):
        if iq["type"] == "set":
            emit("roster_push", items=roster_items(iq))

    def on_presence(self, pres):
        error = pres["error"]["condition"] if pres["type"] == "error" else None
        emit("presence", **{"from": str(pres["from"]), "to": str(pres["to"]), "type": pres["type"],
                            "status": pres["status"], "priority": pres["priority"], "error": error})

    def on_message(self, msg):
        emit("message", **{"from": str(msg["from"]), "to": str(msg["to"]), "type": msg["type"],
                           "id": msg["id"], "body": msg["body"], "omemo": omemo_of(msg.xml),
                           "delayed": msg.xml.find("{urn:xmpp:delay}delay") is not None,
                           "receipt_request": msg.xml.find("{urn:xmpp:receipts}request") is not None,
                           "markable": msg.xml.find("{urn:xmpp:chat-markers:0}markable") is not None,
                           "oob": msg.xml.findtext("{jabber:x:oob}x/{jabber:x:oob}url")})

    def on_message_error(self, msg):
        emit("message_error", **{"from": str(msg["from"]), "id": msg["id"], "condition": msg["error"]["condition"],
                                 "text": msg["error"]["text"]})

    def on_groupchat(self, msg):
        if not msg["body"]:
            return
        sid = msg.xml.find("{urn:xmpp:sid:0}stanza-id")
        emit("groupchat", **{"from": str(msg["from"]), "id": msg["id"], "body": msg["body"],
                             "stanza_id": sid.get("id") if sid is not None and sid.get("by") == msg["from"].bare else None,
                             "delayed": msg.xml.find("{urn:xmpp:delay}delay") is not None})

    def on_stream_error(self, err):
        emit("error", where="stream", condition=err["condition"], text=err["text"])

    def on_connection_failed(self, reason):
        emit("error", where="connect", text=str(reason))
        self.finish(2)

    def on_disconnected(self, reason):
        emit("disconnected", reason=str(reason or ""), expected=self.quitting)
        if self.args.sm and not self.quitting:
            # What a phone does when its network comes back: connect again, then resume.
            self.connect((self.args.host, self.args.port), use_ssl=self.args.direct_tls, force_starttls=not self.args.direct_tls)
            return
        self.finish(0 if self.quitting else 2)

    def finish(self, code):
        sys.stdout.flush()
        os._exit(code)

    async def run_command(self, cmd):
        name = cmd.get("cmd")
        if name == "roster":
            if "ver" in cmd:  # an explicit version, e.g. "" for the whole roster (RFC 6121 §2.6.2)
                ver_sent = cmd["ver"]
                iq = self.Iq(stype="get")
                iq["roster"]["ver"] = ver_sent
                result = await iq.send(timeout=10)
            else:  # what slixmpp itself asks: its cached version once it has one
                ver_sent = self.client_roster.version if "rosterver" in self.features else None
                result = await self.get_roster(timeout=10)
            had_query = self.roster_results.pop(result["id"])
            # No <query/> in the result means "unchanged since the version you sent" (RFC 6121 §2.6.3).
            emit("roster", ver_sent=ver_sent, unchanged=not had_query, ver=result["roster"]["ver"] if had_query else None,
                 items=roster_items(result) if had_query else [])
        elif name == "presence":
            self.send_presence(pshow=cmd.get("show"), pstatus=cmd.get("status"))
        # Plain presence stanzas, not slixmpp's roster helpers: RosterItem.authorize() also sends
        # a directed presence, which would hide whether the server sends the presence itself.
        elif name == "subscribe":
            self.send_presence(pto=cmd["to"], ptype="subscribe")
        elif name == "approve":
            self.send_presence(pto=cmd["to"], ptype="subscribed")
        elif name == "message":
            msg = self.make_message(mto=cmd["to"], mbody=cmd["body"], mtype="chat")
            if "id" in cmd:
                msg["id"] = cmd["id"]
            if cmd.get("receipt"):
                msg["request_receipt"] = True
            if cmd.get("markable"):
                msg.enable("markable")
            if cmd.get("oob"):
                msg["oob"]["url"] = cmd["oob"]
            msg.send()
        elif name == "marker":
            self["xep_0333"].send_marker(JID(cmd["to"]), cmd["id"], cmd["marker"])
        # XEP-0363 by hand: slixmpp's plugin needs aiohttp, which Debian's python3-slixmpp does not pull in.
        elif name == "upload":
            data = cmd["data"].encode()
            iq = self.make_iq_get(ito=JID(cmd["service"]))
            iq.append(ET.Element(f"{{{UPLOAD}}}request", filename=cmd["filename"], size=str(len(data)),
                                 **{"content-type": cmd.get("content_type", "text/plain")}))
            result = await iq.send(timeout=10)
            slot = result.xml.find(f"{{{UPLOAD}}}slot")
            put = slot.find(f"{{{UPLOAD}}}put")
            headers = {h.get("name"): h.text or "" for h in put.findall(f"{{{UPLOAD}}}header")}
            headers["Content-Type"] = cmd.get("content_type", "text/plain")
            status, _ = await asyncio.get_running_loop().run_in_executor(None, http, put.get("url"), "PUT", data, headers)
            emit("uploaded", status=status, get=slot.find(f"{{{UPLOAD}}}get").get("url"))
        elif name == "mam":
            messages = []
            rsm = {"max": cmd.get("max", 50)}
            with_jid = JID(cmd["with"]) if cmd.get("with") else None
            archive = JID(cmd["jid"]) if cmd.get("jid") else None
            async for result in self["xep_0313"].iterate(jid=archive, with_jid=with_jid, rsm=rsm):
                fwd = result["mam_result"]["forwarded"]["stanza"]
                messages.append({"id": result["mam_result"]["id"], "from": str(fwd["from"]), "body": fwd["body"], "omemo": omemo_of(fwd.xml)})
            emit("mam", messages=messages)
        elif name == "roster_set":
            await self.update_roster(JID(cmd["jid"]), name=cmd.get("name", ""), groups=cmd.get("groups", []), timeout=10)
            emit("roster_set", jid=cmd["jid"])
        elif name == "vcard_set":
            vcard = self.use("xep_0054").make_vcard()
            vcard["FN"] = cmd["fn"]
            if cmd.get("nickname"):
                vcard["NICKNAME"] = cmd["nickname"]
            await self.use("xep_0054").publish_vcard(vcard, timeout=10)
            emit("vcard_set")
        elif name == "vcard_get":
            jid = JID(cmd["jid"]) if cmd.get("jid") else self.boundjid.bare
            result = await self.use("xep_0054").get_vcard(JID(jid), local=False, cached=False, timeout=10)
            vcard = result["vcard_temp"]
            nickname = vcard["NICKNAME"]
            emit("vcard", fn=vcard["FN"] or None, nickname=(nickname[0] if isinstance(nickname, list) and nickname else nickname) or None)
        elif name == "bookmarks_set":
            bookmarks = Bookmarks()
            bookmarks.add_conference(cmd["room"], cmd["nick"], name=cmd["name"], autojoin=True)
            await self.use("xep_0048").set_bookmarks(bookmarks, method="xep_0049", timeout=10)
            emit("bookmarks_set")
        elif name == "bookmarks_get":
            result = await self.use("xep_0048").get_bookmarks(method="xep_0049", timeout=10)
            conferences = result["private"]["bookmarks"]["conferences"]
            emit("bookmarks", conferences=[{"jid": str(c["jid"]), "name": c["name"], "nick": c["nick"]} for c in conferences])
        elif name == "avatar_publish":
            data = b64decode(cmd["data"])
            avatar_id = self.use("xep_0084").generate_id(data)
            await self.use("xep_0084").publish_avatar(data, timeout=10)
            await self.use("xep_0084").publish_avatar_metadata({"id": avatar_id, "type": "image/png", "bytes": len(data)}, timeout=10)
            emit("published", what="avatar", id=avatar_id)
        elif name == "pep_items":
            got = await self["xep_0060"].get_items(JID(cmd["jid"]), cmd["node"], timeout=10)
            items = [{"id": item["id"], "payload": ET.tostring(item["payload"], encoding="unicode") if item["payload"] is not None else None}
                     for item in got["pubsub"]["items"]]
            emit("pep_items", node=cmd["node"], items=items)
        elif name == "muc_create":
            room = JID(cmd["room"])
            created = asyncio.get_running_loop().create_future()
            handler = lambda pres: created.done() or created.set_result(pres)
            self.add_event_handler(f"muc::{room}::self-presence", handler)
            self["xep_0045"].join_muc(room, cmd["nick"])
            pres = await asyncio.wait_for(created, 10)
            self.del_event_handler(f"muc::{room}::self-presence", handler)
            codes = sorted(int(s.get("code")) for s in pres.xml.iter("{http://jabber.org/protocol/muc#user}status"))
            if 201 in codes:
                form = Form()
                await self["xep_0045"].set_room_config(room, form)
            emit("muc_created", room=str(room), codes=codes, affiliation=pres["muc"]["affiliation"], role=pres["muc"]["role"])
        elif name == "muc_join":
            room = JID(cmd["room"])
            pres, subject, occupants, history = await self["xep_0045"].join_muc_wait(
                room, cmd["nick"], maxstanzas=cmd.get("maxstanzas"), timeout=10)
            emit("muc_joined", room=str(room), nick=pres["from"].resource, role=pres["muc"]["role"],
                 occupants=sorted(p["from"].resource for p in occupants), subject=subject["subject"],
                 history=[m["body"] for m in history])
        elif name == "muc_say":
            msg = self.make_message(mto=cmd["room"], mbody=cmd["body"], mtype="groupchat")
            if "id" in cmd:
                msg["id"] = cmd["id"]
            msg.send()
        elif name == "muc_leave":  # the plugin forgets the room at once: the answer is a "presence" event
            self["xep_0045"].leave_muc(JID(cmd["room"]), cmd["nick"])
        # OMEMO (XEP-0384, legacy namespace) as Conversations sends it, through slixmpp's XEP-0060
        # plugin: the device list and a bundle, each with publish-options access_model=open. The key
        # material is random bytes of the right sizes, not keys from a Signal implementation.
        elif name == "omemo_publish":
            device = cmd["device"]
            devices = ET.Element(f"{{{AXOLOTL}}}list")
            ET.SubElement(devices, "device", id=str(device))
            await self["xep_0060"].publish(None, f"{AXOLOTL}.devicelist", id="current", payload=devices, options=open_options())
            emit("published", what="devicelist")
            await self["xep_0060"].publish(None, f"{AXOLOTL}.bundles:{device}", id="current", payload=make_bundle(), options=open_options())
            emit("published", what="bundle")
        elif name == "omemo_fetch":
            jid = JID(cmd["jid"])
            listed = await self["xep_0060"].get_items(jid, f"{AXOLOTL}.devicelist", max_items=1)
            devices = [int(d.get("id")) for d in listed.xml.iter(f"{{{AXOLOTL}}}device")]
            got = await self["xep_0060"].get_items(jid, f"{AXOLOTL}.bundles:{devices[0]}", max_items=1)
            bundle = got.xml.find(f".//{{{AXOLOTL}}}bundle")
            key = lambda path: len(b64decode(bundle.find(f"{{{AXOLOTL}}}{path}").text))
            emit("bundle", devices=devices, ik=key("identityKey"), spk=key("signedPreKeyPublic"),
                 signature=key("signedPreKeySignature"), prekeys=len(bundle.findall(f".//{{{AXOLOTL}}}preKeyPublic")))
        elif name == "omemo_send":
            msg = self.make_message(mto=cmd["to"], mbody="I sent you an OMEMO encrypted message but your client doesn't seem to support that.", mtype="chat")
            msg["id"] = cmd["id"]
            msg.append(make_encrypted(cmd["sid"], cmd["rid"], cmd["payload"]))
            msg.append(ET.Element("{urn:xmpp:hints}store"))
            msg.send()
        # XEP-0065 with slixmpp's plugin, which knows mediated connections only (§6): both sides
        # connect to a proxy found through the server's disco#items.
        elif name == "s5b_accept":
            self.accept_bytestream(cmd["path"])
        elif name == "s5b_send":
            proxies = await self["xep_0065"].discover_proxies()
            emit("s5b_proxies", proxies={str(jid): [host, int(port)] for jid, (host, port) in proxies.items()})
            with open(cmd["path"], "rb") as f:
                data = f.read()
            sock = await self["xep_0065"].handshake(JID(cmd["to"]), timeout=10)
            emit("s5b_stream", role="requester", peer=list(sock.transport.get_extra_info("peername")[:2]))
            for i in range(0, len(data), 16384):
                await sock.write(data[i:i + 16384])
            sock.transport.close()  # after what is buffered: the Target reads to the end
            emit("s5b_sent", size=len(data), sha256=hashlib.sha256(data).hexdigest())
        elif name == "quit":
            self.quitting = True
            self.disconnect()
        else:
            emit("error", where="command", text=f"unknown command {name!r}")

    def accept_bytestream(self, path):
        self["xep_0065"].auto_accept = True
        out = open(path, "wb")
        digest = hashlib.sha256()
        size = 0

        def on_stream(conn):
            emit("s5b_stream", role="target", peer=list(conn.transport.get_extra_info("peername")[:2]))

        def on_data(data):
            nonlocal size
            out.write(data)
            digest.update(data)
            size += len(data)

        def on_closed(_exc):
            out.close()
            emit("s5b_received", size=size, sha256=digest.hexdigest())

        self.add_event_handler("socks5_stream", on_stream)
        self.add_event_handler("socks5_data", on_data)
        self.add_event_handler("socks5_closed", on_closed)

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
            if line.strip():
                task = asyncio.ensure_future(self.run_command(json.loads(line)))
                task.add_done_callback(report_failure)


AXOLOTL = "eu.siacs.conversations.axolotl"
UPLOAD = "urn:xmpp:http:upload:0"


def http(url, method, data, headers):
    """One HTTP request, never through a proxy, without a certificate check (the test servers'
    certificates are their own); (status, body)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def open_options():
    form = Form()
    form["type"] = "submit"
    form.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#publish-options")
    form.add_field(var="pubsub#access_model", value="open")
    return form


def key():
    return b64encode(b"\x05" + os.urandom(32)).decode()


def make_bundle():
    bundle = ET.Element(f"{{{AXOLOTL}}}bundle")
    ET.SubElement(bundle, "signedPreKeyPublic", signedPreKeyId="1").text = key()
    ET.SubElement(bundle, "signedPreKeySignature").text = b64encode(os.urandom(64)).decode()
    ET.SubElement(bundle, "identityKey").text = key()
    prekeys = ET.SubElement(bundle, "prekeys")
    for i in range(1, 101):
        ET.SubElement(prekeys, "preKeyPublic", preKeyId=str(i)).text = key()
    return bundle


def make_encrypted(sid, rid, payload):
    encrypted = ET.Element(f"{{{AXOLOTL}}}encrypted")
    header = ET.SubElement(encrypted, f"{{{AXOLOTL}}}header", sid=str(sid))
    ET.SubElement(header, f"{{{AXOLOTL}}}key", rid=str(rid), prekey="true").text = b64encode(os.urandom(32)).decode()
    ET.SubElement(header, f"{{{AXOLOTL}}}iv").text = b64encode(os.urandom(12)).decode()
    ET.SubElement(encrypted, f"{{{AXOLOTL}}}payload").text = b64encode(payload.encode()).decode()
    return encrypted


def omemo_of(xml):
    encrypted = xml.find(f"{{{AXOLOTL}}}encrypted")
    if encrypted is None:
        return None
    header = encrypted.find(f"{{{AXOLOTL}}}header")
    return {"sid": int(header.get("sid")), "rids": sorted(int(k.get("rid")) for k in header.findall(f"{{{AXOLOTL}}}key")),
            "payload": encrypted.find(f"{{{AXOLOTL}}}payload").text}


def report_failure(task):
    if not task.cancelled() and task.exception() is not None:
        emit("error", where="command", text=repr(task.exception()))


def roster_items(iq):
    items = iq["roster"]["items"]
    return [{"jid": str(jid), "subscription": item["subscription"], "ask": item["ask"] or None,
             "name": item["name"] or None, "groups": list(item["groups"])} for jid, item in items.items()]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--direct-tls", action="store_true")
    p.add_argument("--sm", action="store_true", help="enable stream management and resume after a lost connection")
    p.add_argument("--receipts", action="store_true", help="acknowledge receipt requests (XEP-0184), read chat markers (XEP-0333)")
    p.add_argument("--tls12", action="store_true", help="cap TLS at 1.2, where tls-unique exists")
    p.add_argument("--no-channel-binding", action="store_true", help="offer no channel-binding data to SASL")
    p.add_argument("--mechanism", help="allow only this SASL mechanism")
    p.add_argument("--timeout", type=float, default=20)
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")

    agent = Agent(args)
    loop = agent.loop

    def on_timeout():
        emit("timeout", seconds=args.timeout)
        agent.finish(3)

    loop.call_later(args.timeout, on_timeout)
    loop.add_reader(sys.stdin.fileno(), agent.on_stdin, sys.stdin.fileno(), bytearray())
    agent.connect((args.host, args.port), use_ssl=args.direct_tls, force_starttls=not args.direct_tls)
    loop.run_forever()


if __name__ == "__main__":
    main()

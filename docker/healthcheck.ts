// The container's health check: the node answers a client stream header on its STARTTLS port
// (RFC 6120 §4.2) with its own. A node that is draining has closed its listener and fails it.
import { connect } from "node:net";

const port = Number(process.env.XMPPD_C2S__PORT ?? 5222);
const domain = process.env.XMPPD_DOMAIN ?? "localhost";
const socket = connect(port, "127.0.0.1");
const fail = (): never => process.exit(1);
socket.setTimeout(2500, fail);
socket.on("error", fail);
socket.on("connect", () => {
  socket.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`);
});
let seen = "";
socket.on("data", (d: Buffer) => {
  seen += d.toString();
  if (seen.includes("<stream:stream")) {
    socket.end("</stream:stream>");
    process.exit(0);
  }
});

// The capabilities a module context offers, as types a module's helpers take: a helper that
// only sends takes a Send, one that looks sessions up takes Sessions (see ModuleContext).
import type { Element } from "../xml/element.ts";
import type { ServerConfig } from "./config.ts";
import type { HandleHooks, NotifyHooks } from "./events.ts";
import type { Router } from "./router.ts";
import type { SessionDirectory } from "./session.ts";

/** Sessions as modules see them: by JID (other nodes' too in a cluster), this node's all, and an account's turn. */
export type Sessions = Pick<SessionDirectory, "get" | "of" | "several" | "all" | "exclusive" | "shared">;

/** Routes a stanza the server sends, its 'from' already set (RFC 6120 §10): local delivery or a component. */
export type Send = (stanza: Element) => Promise<void>;

/** Sends an iq from the server and waits for its result; rejects with the error answer, or remote-server-timeout. */
export type RequestIq = (iq: Element, timeoutMs: number) => Promise<Element>;

/** Fires a notify hook; a listener's failure goes to `onError`, else to the module's log. */
export type Notify = <K extends keyof NotifyHooks>(name: K, value: NotifyHooks[K], onError?: (e: unknown) => void) => Promise<void>;

/** Runs a handle hook's handlers now (the first to take the value wins), synchronously while they are. */
export type Dispatch = <K extends keyof HandleHooks>(name: K, value: HandleHooks[K]) => boolean | Promise<boolean>;

/**
 * The router's delivery steps the offline store takes part in: who takes a message now, writing it
 * to them (the one delivery routine), a message a session did not take, routing again, a store
 * write the acknowledgement waits for instead of routing (mayDefer, deferredFailed); and
 * delivering a message to all of an account's resources (calls, XEP-0353).
 */
export type Delivery = Pick<Router, "messageTargets" | "writeMessage" | "undelivered" | "reroute" | "deliverToAll" | "mayDefer" | "deferredFailed">;

/** Bound ports of the HTTP listeners, once the server listens. */
export interface HttpPorts { readonly http?: number; readonly https?: number }

/** The server-level settings modules read; the rest of the configuration is the core's. */
export interface ServerSettings {
  /** Folder for the server's files (uploads kept on disk). */
  readonly dataDir: string;
  readonly registration: ServerConfig["registration"];
  readonly c2s: Pick<ServerConfig["c2s"], "requireTls">;
  /** Where browsers reach the WebSocket endpoint (the web client's page names it, as host-meta does). */
  readonly http: Pick<ServerConfig["http"], "publicUrl" | "secureProxy">;
  readonly sm: Pick<ServerConfig["sm"], "maxQueue" | "pushResumeTimeout">;
  /** Tests: a module's own listener (the SOCKS5 proxy's) binds a port the system chooses, as the server's listeners do. */
  readonly ephemeralPorts: boolean;
}

// Streaming parser for the XML of XMPP streams: RFC 6120 §11 (restricted XML) on top of
// XML 1.0 (fifth edition) well-formedness and Namespaces in XML 1.0.
//
// §11.1: an XMPP entity "MUST NOT" accept comments, processing instructions, internal or
// external DTD subsets, or entity references other than the predefined ones; it closes the
// stream with <restricted-xml/>. Anything not well-formed closes it with <not-well-formed/>.
//
// This is the server's hot path; the parser is a folder of small files, see parser/:
//   stream-parser.ts  StreamParser: decode, feed, reset, setLimits
//   decoder.ts        UTF-8 stream decoding and the byte order mark
//   tokenizer.ts      the state machine loop, handler calls, waiting for a cut tag's '>'
//   markup.ts         what may follow '<': tags, CDATA, the XML declaration; no DTD, PI, comment
//   tags.ts           start and end tags, depth limit, the element tree
//   attributes.ts     attributes, their values and limits
//   namespaces.ts     prefix declarations and scopes, top-level element normalisation
//   names.ts          QName scanning and the name cache
//   text.ts           character data, CDATA content, line ends, surrogates
//   entities.ts       character and predefined entity references
//   chars.ts          character classes
//   state.ts          the parser's state, the scanners' result codes, and why each module
//                     exports one object of consts (V8 folds local consts, not imports)
//   types.ts          ParserLimits, ParserHandler, ParserErrorCondition
export { StreamParser } from "./parser/stream-parser.ts";
export type { ParserErrorCondition, ParserHandler, ParserLimits } from "./parser/types.ts";

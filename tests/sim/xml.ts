/**
 * @module A tiny XML writer for the simulated EC2 Query responses: plain objects become
 * elements in insertion order, arrays become EC2's `<item>` lists, `undefined` is omitted.
 */

export type XmlValue =
  | string
  | number
  | boolean
  | Date
  | undefined
  | readonly XmlValue[]
  | XmlObject;
export interface XmlObject {
  readonly [name: string]: XmlValue;
}

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** `<name>value</name>`; an array renders as `<name><item>…</item>…</name>`. */
export function xmlElement(name: string, value: XmlValue): string {
  if (value === undefined) return "";
  let inner: string;
  if (Array.isArray(value)) inner = value.map((item) => xmlElement("item", item)).join("");
  else if (value instanceof Date) inner = value.toISOString();
  else if (typeof value === "object") {
    inner = Object.entries(value as XmlObject).map(([k, v]) => xmlElement(k, v)).join("");
  } else inner = escapeXml(String(value));
  return inner === "" ? `<${name}/>` : `<${name}>${inner}</${name}>`;
}

/** A whole document: declaration, then `root` (with `xmlns` when given) and its children. */
export function xmlDocument(root: string, children: XmlObject, namespace?: string): string {
  const open = namespace === undefined ? root : `${root} xmlns="${escapeXml(namespace)}"`;
  const body = Object.entries(children).map(([k, v]) => xmlElement(k, v)).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${open}>${body}</${root}>`;
}

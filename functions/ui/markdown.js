// A small markdown renderer that builds DOM nodes and never parses the text as HTML: every piece
// of the document becomes a text node, so "<script>" in a scanned page shows as those characters.
// Covers what the OCR engines write: headings, paragraphs, lists, bold/italic/code, pipe tables,
// HTML tables (the vlm engine's; rebuilt from their cells' text only),
// block quotes, code fences and rules.

const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const FENCE = /^ {0,3}(```|~~~)/;
const QUOTE = /^ {0,3}> ?/;
const ITEM = /^([ \t]*)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
const TABLE_SEPARATOR = /^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const HTML_TABLE = /^[ \t]*<table[\s>]/i;
const INLINE = new RegExp([
  /\\([\\`*_{}[\]()#+\-.!|>~<])/.source, // 1: an escaped character
  /(`+)([^`]|[^`][\s\S]*?[^`])\2(?!`)/.source, // 2, 3: code span
  /\*\*(?=\S)([\s\S]*?\S)\*\*/.source, // 4: bold
  /(?<![\p{L}\p{N}_])__(?=\S)([\s\S]*?\S)__(?![\p{L}\p{N}_])/.source, // 5: bold
  /\*(?=[^\s*])([\s\S]*?[^\s*])\*/.source, // 6: italic
  /(?<![\p{L}\p{N}_])_(?=[^\s_])([\s\S]*?[^\s_])_(?![\p{L}\p{N}_])/.source, // 7: italic
].join("|"), "gu");

function el(name, ...children) {
  const node = document.createElement(name);
  for (const child of children) node.append(child);
  return node;
}

export function renderInline(text, parent) {
  let at = 0;
  const source = String(text);
  const pattern = new RegExp(INLINE.source, INLINE.flags); // recursion needs its own lastIndex
  for (let match; (match = pattern.exec(source)); ) {
    if (match.index > at) parent.append(source.slice(at, match.index));
    if (match[1] !== undefined) parent.append(match[1]);
    else if (match[3] !== undefined) parent.append(el("code", match[3]));
    else if (match[4] !== undefined || match[5] !== undefined) {
      parent.append(renderInline(match[4] ?? match[5], document.createElement("strong")));
    } else parent.append(renderInline(match[6] ?? match[7], document.createElement("em")));
    at = pattern.lastIndex;
  }
  if (at < source.length) parent.append(source.slice(at));
  return parent;
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim());
}

function pipeTable(lines) {
  const alignments = splitRow(lines[1]).map((cell) =>
    cell.startsWith(":") && cell.endsWith(":") ? "center" : cell.endsWith(":") ? "right" : "");
  const table = el("table");
  const addRow = (cells, section, tag) => {
    const row = section.insertRow();
    cells.forEach((cell, index) => {
      const node = renderInline(cell, document.createElement(tag));
      if (alignments[index]) node.className = `align-${alignments[index]}`;
      row.append(node);
    });
  };
  addRow(splitRow(lines[0]), table.createTHead(), "th");
  const body = table.createTBody();
  for (const line of lines.slice(2)) addRow(splitRow(line), body, "td");
  return el("div", table);
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,6});/gi, (whole, name) => {
    if (name[0] !== "#") return ENTITIES[name.toLowerCase()] ?? whole;
    const code = name[1] === "x" || name[1] === "X" ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

function htmlTable(markup) {
  // Read with a few patterns, not the browser's HTML parser: only rows, cells, their text and
  // numeric spans are kept; every other tag and attribute is dropped.
  const table = el("table");
  for (const [, rowMarkup] of markup.matchAll(/<tr\b[^>]*>([\s\S]*?)(?=<tr\b|<\/table>|$)/gi)) {
    const row = el("tr");
    for (const [, tag, attributes, content] of rowMarkup.matchAll(/<(t[hd])\b([^>]*)>([\s\S]*?)(?=<\/?t[hd]\b|<\/tr>|$)/gi)) {
      const text = decodeEntities(content.replace(/<br\s*\/?>/gi, " ").replace(/<[^>]*>/g, "")).replace(/\s+/g, " ").trim();
      const cell = renderInline(text, document.createElement(tag.toLowerCase()));
      for (const span of ["colspan", "rowspan"]) {
        const value = Number.parseInt((attributes.match(new RegExp(`${span}\\s*=\\s*["']?(\\d+)`, "i")) || [])[1], 10);
        if (value > 1 && value <= 100) cell.setAttribute(span, String(value));
      }
      row.append(cell);
    }
    table.append(row);
  }
  return table.rows.length ? el("div", table) : el("p", markup);
}

function list(lines) {
  const first = lines[0].match(ITEM);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const node = el(ordered ? "ol" : "ul");
  if (ordered && Number.parseInt(first[2], 10) !== 1) node.start = Number.parseInt(first[2], 10);
  let item = null;
  for (const line of lines) {
    const match = line.match(ITEM);
    if (match && match[1].length <= indent) {
      item = { head: [match[3]], children: [] };
      node.append(item.node = el("li"));
    } else if (match || item.children.length) item.children.push(line.slice(Math.min(indent + 2, line.search(/\S/))));
    else item.head.push(line.trim());
    renderItem(item);
  }
  return node;
}

function renderItem(item) {
  item.node.replaceChildren(renderInline(item.head.join(" "), document.createDocumentFragment()));
  if (item.children.length) item.node.append(renderBlocks(item.children));
}

function renderBlocks(lines) {
  const out = document.createDocumentFragment();
  let index = 0;
  const take = (test) => {
    const taken = [];
    while (index < lines.length && test(lines[index])) taken.push(lines[index++]);
    return taken;
  };
  while (index < lines.length) {
    const line = lines[index];
    let match;
    if (!line.trim()) {
      index++;
    } else if ((match = line.match(FENCE))) {
      index++;
      const code = take((next) => !next.trimStart().startsWith(match[1]));
      index++; // the closing fence
      out.append(el("pre", el("code", code.join("\n"))));
    } else if ((match = line.match(HEADING))) {
      index++;
      out.append(renderInline(match[2], document.createElement(`h${match[1].length}`)));
    } else if (RULE.test(line)) {
      index++;
      out.append(el("hr"));
    } else if (QUOTE.test(line)) {
      out.append(el("blockquote", renderBlocks(take((next) => QUOTE.test(next)).map((q) => q.replace(QUOTE, "")))));
    } else if (HTML_TABLE.test(line)) {
      const markup = take((next) => !/<\/table>/i.test(next));
      if (index < lines.length) markup.push(lines[index++]);
      out.append(htmlTable(markup.join("\n")));
    } else if (line.includes("|") && index + 1 < lines.length && TABLE_SEPARATOR.test(lines[index + 1])
               && lines[index + 1].includes("-")) {
      out.append(pipeTable(take((next) => next.includes("|") && next.trim())));
    } else if (ITEM.test(line)) {
      const indent = line.match(ITEM)[1].length;
      const ordered = (text) => /\d/.test(text.match(ITEM)[2]);
      const items = [];
      while (index < lines.length) {
        const next = lines[index];
        const sibling = next.match(ITEM);
        if (items.length && sibling && sibling[1].length <= indent && ordered(next) !== ordered(line)) break;
        const blankThenMore = !next.trim() && index + 1 < lines.length
          && (ITEM.test(lines[index + 1]) || /^[ \t]{2,}\S/.test(lines[index + 1]));
        if (!next.trim() && !blankThenMore) break;
        if (next.trim() && !ITEM.test(next) && next.search(/\S/) <= indent && items.length
            && startsBlock(next)) break;
        index++;
        if (next.trim()) items.push(next);
      }
      out.append(list(items));
    } else {
      const paragraph = take((next) => next.trim() && !startsBlock(next));
      if (!paragraph.length) paragraph.push(lines[index++]);
      out.append(renderInline(paragraph.map((p) => p.trim()).join("\n"), el("p")));
    }
  }
  return out;
}

function startsBlock(line) {
  return HEADING.test(line) || RULE.test(line) || FENCE.test(line) || QUOTE.test(line) || ITEM.test(line)
    || HTML_TABLE.test(line);
}

export function renderMarkdown(text) {
  return renderBlocks(String(text ?? "").replace(/\r\n?/g, "\n").split("\n"));
}

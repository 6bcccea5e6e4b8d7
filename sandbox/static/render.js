// Renders a Telegram message (text + entities) into DOM nodes.
// The bot's raw HTML is never injected: every node is built here from the entity list, so
// what you see is what Telegram clients would show for the same text and entities.
(function () {
"use strict";

const ENTITY_TAGS = {
  bold: "b",
  italic: "i",
  underline: "u",
  strikethrough: "s",
  code: "code",
  pre: "pre",
  blockquote: "blockquote",
  expandable_blockquote: "blockquote",
};

function safeHref(url) {
  // Only web and tg links are clickable; anything else (javascript:, data:) stays text.
  return /^(https?:|tg:)/i.test(url || "") ? url : null;
}

function entityElement(entity, text) {
  if (entity.type === "text_link" || entity.type === "url") {
    const href = safeHref(entity.type === "url" ? text : entity.url);
    const a = document.createElement(href ? "a" : "span");
    if (href) {
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return a;
  }
  if (entity.type === "spoiler") {
    const span = document.createElement("span");
    span.className = "spoiler";
    span.title = "spoiler: click to reveal";
    span.addEventListener("click", (ev) => {
      ev.stopPropagation();
      span.classList.add("revealed");
    });
    return span;
  }
  const tag = ENTITY_TAGS[entity.type];
  const el = document.createElement(tag || "span");
  el.classList.add("ent-" + entity.type);
  if (entity.type === "pre" && entity.language) el.dataset.language = entity.language;
  return el;
}

// Builds nested elements; entities from Telegram HTML are properly nested. Overlapping
// user-supplied entities are clipped to their parent so nothing is lost or duplicated.
function buildInto(parent, text, entities, start, end) {
  let pos = start;
  let i = 0;
  while (i < entities.length) {
    const e = entities[i];
    if (e.offset < pos) { i++; continue; }
    if (e.offset > pos) parent.appendChild(document.createTextNode(text.slice(pos, e.offset)));
    const eEnd = Math.min(e.offset + e.length, end);
    const inner = [];
    let j = i + 1;
    while (j < entities.length && entities[j].offset < eEnd) {
      const c = entities[j];
      inner.push({ ...c, length: Math.min(c.offset + c.length, eEnd) - c.offset });
      j++;
    }
    const el = entityElement(e, text.slice(e.offset, eEnd));
    buildInto(el, text, inner, e.offset, eEnd);
    parent.appendChild(el);
    pos = eEnd;
    i = j;
  }
  if (pos < end) parent.appendChild(document.createTextNode(text.slice(pos, end)));
}

// JavaScript strings are UTF-16, so Telegram's offsets index them directly.
function renderText(text, entities) {
  const box = document.createElement("div");
  box.className = "text";
  const sorted = (entities || []).slice().sort((a, b) => a.offset - b.offset || b.length - a.length);
  buildInto(box, text || "", sorted, 0, (text || "").length);
  return box;
}

function formatSize(bytes) {
  if (bytes == null) return "";
  if (bytes < 1024) return bytes + " B";
  if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
  return (bytes / 1024 / 1024).toFixed(1) + " MB";
}

function mediaCard(msg) {
  const kinds = [
    ["photo", "📷", "Photo"],
    ["document", "📄", "Document"],
    ["sticker", "🙂", "Sticker"],
    ["voice", "🎤", "Voice"],
  ];
  for (const [key, icon, label] of kinds) {
    const media = msg[key];
    if (!media) continue;
    const card = document.createElement("div");
    card.className = "media-card media-" + key;
    const parts = [label];
    if (key === "sticker" && media.emoji) parts.push(media.emoji);
    if (key === "voice" && media.duration) parts.push(media.duration + " s");
    if (key !== "sticker") parts.push(media.file_name, formatSize(media.size));
    const iconEl = document.createElement("span");
    iconEl.className = "media-icon";
    iconEl.textContent = key === "sticker" && media.emoji ? media.emoji : icon;
    const info = document.createElement("span");
    info.textContent = parts.filter(Boolean).join(" · ");
    card.append(iconEl, info);
    return card;
  }
  return null;
}

window.SandboxRender = { renderText, mediaCard, formatSize };
})();

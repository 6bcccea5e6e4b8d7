// The sandbox web chat: two panes, each a persona talking to the bot through the control API.
// Everything shown comes from /sandbox/api (history) and the /events long poll (live).
"use strict";

const { renderText, mediaCard } = window.SandboxRender;
const state = { personas: [], bot: null, panes: [], lastSeq: 0, violations: 0 };

async function api(path, options = {}) {
  const init = { ...options, headers: { "Content-Type": "application/json" } };
  if (init.body && typeof init.body !== "string") init.body = JSON.stringify(init.body);
  const response = await fetch("/sandbox/api" + path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || response.status + " " + response.statusText);
  return data;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function toast(text, kind = "info", sticky = false) {
  const box = el("div", "toast toast-" + kind);
  box.append(el("span", "toast-text", text));
  const close = el("button", "toast-close", "✕");
  close.type = "button";
  close.addEventListener("click", () => box.remove());
  box.append(close);
  document.getElementById("toasts").append(box);
  if (!sticky) setTimeout(() => box.remove(), 4000);
}

function personaLabel(p) {
  const where = p.chat_id != null && p.chat_id < 0 ? " @ " + (p.chat_title || p.chat_id) : "";
  return `${p.first_name}${where} (${p.kind}, ${p.id})`;
}

class Pane {
  constructor(index) {
    const template = document.getElementById("pane-template");
    this.root = template.content.firstElementChild.cloneNode(true);
    this.root.dataset.pane = String(index);
    this.q = (sel) => this.root.querySelector(sel);
    this.user = null;
    this.chatId = null;
    this.replyTo = null;
    this.elements = new Map();
    this.views = new Map();
    this.wire();
    document.getElementById("panes").append(this.root);
  }

  wire() {
    const select = this.q(".persona-select");
    state.personas.forEach((p, i) => select.append(new Option(personaLabel(p), String(i))));
    select.append(new Option("Custom…", "custom"));
    select.addEventListener("change", () => this.onSelect());
    this.q(".custom-apply").addEventListener("click", () => this.applyCustom());
    this.q(".composer").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.sendText();
    });
    this.q(".input").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.sendText();
      }
    });
    this.q(".photo").addEventListener("click", () => this.sendMedia("photo"));
    this.q(".sticker").addEventListener("click", () => this.sendMedia("sticker"));
    this.q(".reply-cancel").addEventListener("click", () => this.setReply(null));
  }

  onSelect() {
    const value = this.q(".persona-select").value;
    this.q(".custom").hidden = value !== "custom";
    if (value === "custom") return;
    const p = state.personas[Number(value)];
    const user = { id: p.id, first_name: p.first_name, language_code: p.language_code };
    if (p.last_name) user.last_name = p.last_name;
    if (p.username) user.username = p.username;
    this.setPersona(user, p.chat);
  }

  applyCustom() {
    const id = Number(this.q(".custom-id").value);
    const name = this.q(".custom-name").value.trim();
    if (!id || id < 1 || !name) return toast("Custom persona needs a positive id and a name", "error");
    const lang = this.q(".custom-lang").value.trim() || "zh-hans";
    const group = Number(this.q(".custom-chat").value);
    this.setPersona({ id, first_name: name, language_code: lang }, group < 0 ? group : id);
  }

  select(index) {
    this.q(".persona-select").value = String(index);
    this.onSelect();
  }

  async setPersona(user, chatId) {
    this.user = user;
    this.chatId = chatId;
    this.setReply(null);
    const kind = chatId < 0 ? `Group ${chatId}` : `Private chat with ${user.first_name}`;
    this.q(".chat-title").textContent = `${kind} · you are ${user.first_name} (${user.id})`;
    this.q(".messages").replaceChildren();
    this.elements.clear();
    this.views.clear();
    // A chat exists once somebody wrote in it; until then there is no history to load.
    const { chats } = await api("/chats");
    if (chats.some((c) => c.id === chatId)) {
      const { messages } = await api(`/chats/${chatId}/messages`);
      messages.forEach((m) => this.upsert(m));
    }
    this.updateReplyKeyboard();
  }

  setReply(messageId) {
    this.replyTo = messageId;
    this.q(".reply-bar").hidden = messageId == null;
    if (messageId != null) {
      const view = this.views.get(messageId);
      const snippet = view ? (view.text ?? view.caption ?? "").slice(0, 40) : "";
      this.q(".reply-label").textContent = `Replying to #${messageId} ${snippet}`;
      this.q(".input").focus();
    }
  }

  async post(body) {
    if (!this.user) return toast("Pick a persona first", "error");
    body.user = this.user;
    body.chat_id = this.chatId;
    if (this.replyTo != null) body.reply_to_message_id = this.replyTo;
    try {
      await api("/messages", { method: "POST", body });
      this.setReply(null);
      return true;
    } catch (err) {
      toast("Could not send: " + err.message, "error");
      return false;
    }
  }

  async sendText(textOverride) {
    const input = this.q(".input");
    const text = textOverride ?? input.value.trim();
    if (!text) return;
    if ((await this.post({ text })) && textOverride == null) input.value = "";
  }

  async sendMedia(kind) {
    const input = this.q(".input");
    const body = kind === "photo"
      ? { photo: { file_name: "photo.jpg" }, caption: input.value.trim() || undefined }
      : { sticker: { emoji: "🙂" } };
    if ((await this.post(body)) && kind === "photo") input.value = "";
  }

  async press(messageId, data) {
    try {
      await api("/callbacks", {
        method: "POST",
        body: { user: this.user, chat_id: this.chatId, message_id: messageId, data },
      });
    } catch (err) {
      toast("Button press failed: " + err.message, "error");
    }
  }

  buildMessage(view) {
    const mine = !view.from_bot && this.user && view.from === this.user.id;
    const node = el("div", "msg " + (view.from_bot ? "bot" : mine ? "mine" : "other"));
    node.dataset.messageId = String(view.message_id);
    if (!mine) node.append(el("div", "sender", view.from_name));
    if (view.reply_to_message_id != null) {
      const replied = this.views.get(view.reply_to_message_id);
      const snippet = replied ? (replied.text ?? replied.caption ?? "").slice(0, 60) : "";
      node.append(el("div", "quote", `↩ #${view.reply_to_message_id} ${snippet}`));
    }
    if (view.forwarded) node.append(el("div", "quote", "Forwarded message"));
    const card = mediaCard(view);
    if (card) node.append(card);
    const body = view.text ?? view.caption;
    if (body) node.append(renderText(body, view.text != null ? view.entities : view.caption_entities));
    if (view.reply_markup) node.append(this.keyboard(view));
    const time = new Date(view.date * 1000).toLocaleTimeString();
    node.append(el("div", "meta", `#${view.message_id} · ${time}${view.edited ? " · edited" : ""}`));
    node.title = "Click to reply to this message";
    node.addEventListener("click", () => this.setReply(view.message_id));
    return node;
  }

  keyboard(view) {
    const box = el("div", "keyboard");
    for (const row of view.reply_markup) {
      const line = el("div", "keyboard-row");
      for (const button of row) {
        const b = el("button", "inline-button", button.text);
        b.type = "button";
        if (button.url) b.title = button.url;
        b.addEventListener("click", (ev) => {
          ev.stopPropagation();
          if (button.callback_data != null) this.press(view.message_id, button.callback_data);
          else if (button.url) window.open(button.url, "_blank", "noopener");
        });
        line.append(b);
      }
      box.append(line);
    }
    return box;
  }

  upsert(view) {
    const list = this.q(".messages");
    const node = this.buildMessage(view);
    const old = this.elements.get(view.message_id);
    if (old) old.replaceWith(node);
    else list.append(node);
    this.elements.set(view.message_id, node);
    this.views.set(view.message_id, view);
    if (!old) list.scrollTop = list.scrollHeight;
  }

  remove(messageId) {
    const node = this.elements.get(messageId);
    if (node) node.remove();
    this.elements.delete(messageId);
    this.views.delete(messageId);
  }

  updateReplyKeyboard() {
    const bar = this.q(".reply-keyboard");
    const withKeys = [...this.views.values()].filter((v) => v.from_bot && v.reply_keyboard);
    const last = withKeys[withKeys.length - 1];
    bar.replaceChildren();
    bar.hidden = !last;
    if (!last) return;
    for (const row of last.reply_keyboard) {
      for (const text of row) {
        const chip = el("button", "chip", text);
        chip.type = "button";
        chip.addEventListener("click", () => this.sendText(text));
        bar.append(chip);
      }
    }
  }
}

function handleEvent(event) {
  const panes = state.panes.filter((p) => p.chatId != null && p.chatId === event.chat_id);
  switch (event.type) {
    case "user_message":
    case "bot_message":
    case "bot_edit":
      panes.forEach((p) => { p.upsert(event.message); p.updateReplyKeyboard(); });
      break;
    case "bot_delete":
      panes.forEach((p) => p.remove(event.message_id));
      break;
    case "callback_answer":
      if (panes.length && event.text) toast(event.text, event.show_alert ? "alert" : "info", event.show_alert);
      else if (panes.length && event.url) toast("Bot answered with URL " + event.url);
      break;
    case "violation":
      setViolations(state.violations + 1);
      toast("Violation: " + event.violation.description, "error");
      break;
    case "blocked":
      toast(`Bot tried to ${event.method} to chat ${event.chat_id}, which blocked it (403)`, "info");
      break;
    default:
      break;
  }
}

function setViolations(count) {
  state.violations = count;
  document.getElementById("violation-count").textContent = String(count);
  document.getElementById("violations-button").className = "badge " + (count ? "bad" : "ok");
}

async function showViolations() {
  const panel = document.getElementById("violations-panel");
  const list = document.getElementById("violations-list");
  const { violations } = await api("/violations");
  list.replaceChildren(...violations.map((v) => {
    const item = el("li", v.soft ? "soft" : "hard");
    item.append(el("strong", null, v.method + ": "), el("span", null, v.description));
    item.append(el("pre", "params", JSON.stringify(v.params, null, 1)));
    return item;
  }));
  panel.hidden = false;
}

async function pollEvents() {
  for (;;) {
    try {
      const { events } = await api(`/events?after=${state.lastSeq}&wait=25`);
      for (const event of events) {
        state.lastSeq = Math.max(state.lastSeq, event.seq);
        handleEvent(event);
      }
    } catch (err) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function main() {
  const { personas, bot } = await api("/personas");
  state.personas = personas;
  state.bot = bot;
  document.getElementById("bot-name").textContent = `${bot.first_name} (@${bot.username})`;
  state.lastSeq = (await api("/events")).last_seq;
  setViolations((await api("/violations")).violations.length);
  state.panes = [new Pane(0), new Pane(1)];
  if (personas.length) state.panes[0].select(0);
  const other = personas.findIndex((p) => p.kind !== (personas[0] || {}).kind);
  if (personas.length > 1) state.panes[1].select(other >= 0 ? other : 1);
  else state.panes[1].select("custom");
  document.getElementById("violations-button").addEventListener("click", showViolations);
  document.getElementById("violations-close").addEventListener("click", () => {
    document.getElementById("violations-panel").hidden = true;
  });
  document.getElementById("violations-clear").addEventListener("click", async () => {
    await api("/violations", { method: "DELETE" });
    setViolations(0);
    document.getElementById("violations-list").replaceChildren();
  });
  document.body.dataset.ready = "1";
  pollEvents();
}

main().catch((err) => toast("Sandbox page failed to start: " + err.message, "error", true));

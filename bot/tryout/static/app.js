// moodcheck sandbox page: renders the chats from server-sent events and posts actions.
// No framework and no build step; everything comes from this machine's sandbox server.
"use strict";

const phonesEl = document.getElementById("phones");
const statusEl = document.getElementById("status");

async function post(path, body) {
  document.body.dataset.busy = "true";
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!answer.ok) statusEl.textContent = answer.error;
    return answer.ok;
  } catch (error) {
    statusEl.textContent = "The sandbox did not answer: is it still running?";
    return false;
  } finally {
    document.body.dataset.busy = "false";
  }
}

function timeOf(iso) {
  return iso ? iso.slice(11, 16) + " UTC" : "";
}

function bubble(message, chatId) {
  const li = document.createElement("li");
  li.className = "bubble " + message.from;
  li.dataset.key = message.from + "-" + message.id;
  li.tabIndex = -1;
  if (message.kind === "photo" && message.file) {
    const img = document.createElement("img");
    img.src = message.file;
    img.alt = message.filename ? "Image " + message.filename : "Image from the bot";
    img.addEventListener("load", () => follow(li.parentElement));
    li.append(img);
  } else if (message.kind === "document" && message.file) {
    const link = document.createElement("a");
    link.className = "file";
    link.href = message.file;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "📄 " + (message.filename || "file");
    li.append(link);
  }
  const text = document.createElement("div");
  text.className = "text";
  text.innerHTML = message.html; // built server-side from escaped text and known tags only
  li.append(text);
  if (message.buttons.length) {
    const keyboard = document.createElement("div");
    keyboard.className = "keyboard";
    keyboard.setAttribute("role", "group");
    keyboard.setAttribute("aria-label", "Buttons of this message");
    for (const row of message.buttons) {
      const rowEl = document.createElement("div");
      rowEl.className = "row";
      for (const label of row) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = label;
        button.addEventListener("click", () =>
          post("/api/press", { chat_id: chatId, message_id: message.id, label }));
        rowEl.append(button);
      }
      keyboard.append(rowEl);
    }
    li.append(keyboard);
  }
  const meta = document.createElement("small");
  meta.className = "meta";
  meta.textContent = (message.who ? message.who + " · " : "") +
    (message.edited ? "edited " : "") + timeOf(message.date);
  li.append(meta);
  return li;
}

// A chat follows its newest message unless the reader scrolled up (as Telegram does).
function atBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
}

function follow(list) {
  if (list.dataset.pinned !== "false") list.scrollTop = list.scrollHeight;
}

function watchScroll(list) {
  list.addEventListener("scroll", () => { list.dataset.pinned = String(atBottom(list)); });
}

function renderMessages(list, messages, chatId) {
  const existing = new Map([...list.children].map((li) => [li.dataset.key, li]));
  const keep = new Set();
  let previous = null;
  for (const message of messages) {
    const key = message.from + "-" + message.id;
    const signature = JSON.stringify(message);
    keep.add(key);
    let li = existing.get(key);
    if (!li || li.dataset.signature !== signature) {
      const fresh = bubble(message, chatId);
      fresh.dataset.signature = signature;
      if (li) {
        // An edit in place: keyboard users stay on the message (on its first button).
        const hadFocus = li.contains(document.activeElement);
        li.replaceWith(fresh);
        if (hadFocus) (fresh.querySelector("button") || fresh).focus();
      } else if (previous) {
        previous.after(fresh);
      } else {
        list.prepend(fresh);
      }
      li = fresh;
    }
    previous = li;
  }
  for (const [key, li] of existing) if (!keep.has(key)) li.remove();
  follow(list);
}

function compose(form, chatId) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = form.querySelector("input");
    if (await post("/api/send", { chat_id: chatId(), text: input.value })) input.value = "";
  });
}

function phoneSection(phone) {
  const section = document.createElement("section");
  section.className = "chat phone";
  section.id = "phone-" + phone.chat_id;
  section.dataset.chatId = phone.chat_id;
  const title = "phone-title-" + phone.chat_id;
  section.setAttribute("aria-labelledby", title);
  section.innerHTML =
    '<h2></h2><ol class="messages" role="log"></ol>' +
    '<form class="compose"><label></label><input name="text" autocomplete="off">' +
    '<button type="submit">Send</button></form>';
  const heading = section.querySelector("h2");
  heading.id = title;
  heading.textContent = phone.name + "'s phone · " + phone.label;
  section.querySelector("ol").setAttribute("aria-label", "Messages in " + phone.name + "'s chat");
  const input = section.querySelector("input");
  input.id = "text-" + phone.chat_id;
  input.placeholder = phone.locale === "es" ? "Escriba un mensaje o /checkin" : "Type a message or /checkin";
  const label = section.querySelector("label");
  label.htmlFor = input.id;
  label.textContent = "Message from " + phone.name + " to the bot";
  compose(section.querySelector("form"), () => phone.chat_id);
  watchScroll(section.querySelector("ol"));
  return section;
}

let groupChatId = null;

function render(state) {
  document.getElementById("now").textContent = state.now_label;
  document.getElementById("now").dateTime = state.now;
  statusEl.textContent = state.status;
  document.body.dataset.busy = String(state.busy);
  for (const phone of state.phones) {
    let section = document.getElementById("phone-" + phone.chat_id);
    if (!section) {
      section = phoneSection(phone);
      phonesEl.append(section);
    }
    renderMessages(section.querySelector("ol"), phone.messages, phone.chat_id);
  }
  groupChatId = state.group.chat_id;
  document.getElementById("group-title").textContent =
    state.group.title + " (you are " + state.group.member + ")";
  renderMessages(document.querySelector("#group ol"), state.group.messages, groupChatId);
}

for (const button of document.querySelectorAll("[data-jump]")) {
  button.addEventListener("click", () => post("/api/travel", { jump: button.dataset.jump }));
}
for (const button of document.querySelectorAll("[data-scenario]")) {
  button.addEventListener("click", () => post("/api/scenario", { name: button.dataset.scenario }));
}
document.getElementById("add-patient").addEventListener("submit", (event) => {
  event.preventDefault();
  post("/api/patients", { locale: document.getElementById("locale").value });
});
compose(document.querySelector("#group form"), () => groupChatId);
watchScroll(document.querySelector("#group ol"));

const events = new EventSource("/api/events");
events.onmessage = (event) => render(JSON.parse(event.data));
events.onerror = () => { statusEl.textContent = "Reconnecting to the sandbox…"; };

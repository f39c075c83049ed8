// The operator console in the browser: plain JavaScript, no build step, nothing loaded from
// elsewhere. Data comes from /console/api/... (JSON) and live snapshots over /console/ws.
// Everything shown is built with DOM calls and textContent: no HTML is made from data.
"use strict";

(() => {
  const body = document.body;
  const page = body.dataset.page;
  const myLogin = body.dataset.login || "";
  let clockOffset = 0; // server time minus browser time, from each snapshot

  // --- helpers -------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else if (key in node) node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function serverNow() {
    return Date.now() + clockOffset;
  }

  function syncClock(iso) {
    if (iso) clockOffset = Date.parse(iso) - Date.now();
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function duration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
  }

  function timeOf(iso) {
    const d = new Date(iso);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function dateTimeOf(iso) {
    const d = new Date(iso);
    return `${pad(d.getDate())}.${pad(d.getMonth() + 1)}.${d.getFullYear()} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  let noticeTimer = null;
  function notice(text, kind) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text;
    box.className = kind === "error" ? "notice error" : "notice info";
    box.hidden = false;
    clearTimeout(noticeTimer);
    if (kind !== "error") noticeTimer = setTimeout(() => { box.hidden = true; }, 8000);
  }

  async function api(method, path, payload) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (payload !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      return { ok: false, status: 0, data: { error: "Нет связи с сервером. Повторите попытку." } };
    }
    let data = {};
    try {
      data = await response.json();
    } catch (error) {
      data = {};
    }
    if (response.status === 401) {
      window.location.assign("/console/login");
    }
    return { ok: response.ok, status: response.status, data };
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // --- the card --------------------------------------------------------------------------------

  const CARD_LABELS = {
    summary: "Кратко",
    topic: "Тема",
    topic_title: "Тема",
    reason: "Причина",
    caller_words: "Клиент сказал",
    words: "Клиент сказал",
    answered: "Бот уже ответил",
    bot_answered: "Бот уже ответил",
    entities: "Найдено в разговоре",
    complaint: "Признаки жалобы",
    complaint_signs: "Признаки жалобы",
    anger: "Признаки раздражения",
    history: "Прошлые обращения",
    repeat_calls: "Звонков с этого номера",
    phones: "Телефоны",
    accounts: "Договоры и счета",
    amounts: "Суммы",
    addresses: "Адреса",
    dates: "Даты",
    when: "Когда",
    at: "Когда",
    started_at: "Когда",
    outcome: "Итог",
    result: "Итог",
    count: "Сколько",
    days: "За дней",
    calls: "Звонки",
    text: "Текст",
    title: "Название",
    kind: "Вид",
    value: "Значение",
    signs: "Признаки",
  };

  function valueNode(value) {
    if (value === null || value === undefined || value === "") return el("span", { class: "muted", text: "—" });
    if (typeof value === "boolean") return el("span", { text: value ? "да" : "нет" });
    if (typeof value !== "object") return el("span", { class: "text", text: String(value) });
    if (Array.isArray(value)) {
      if (value.length === 0) return el("span", { class: "muted", text: "—" });
      return el("ul", {}, value.map((item) => el("li", {}, valueNode(item))));
    }
    const dl = el("dl", {});
    for (const [key, item] of Object.entries(value)) {
      dl.append(el("dt", { text: CARD_LABELS[key] || key }), el("dd", {}, valueNode(item)));
    }
    return dl;
  }

  const ENTITY_TITLES = {
    phones: "Телефоны",
    accounts: "Договоры и счета",
    amounts: "Суммы",
    addresses: "Адреса",
    dates: "Даты",
  };

  function row(dl, key, title, content) {
    dl.append(el("dt", { text: title }), el("dd", { class: `card-${key}` }, content));
  }

  function listOf(items) {
    return el("ul", {}, items.map((item) => el("li", { class: "text", text: String(item) })));
  }

  // The card of voicebot.handoff.build_card (version 1): each part where the operator looks.
  function cardV1(card, dl) {
    if (card.summary) row(dl, "summary", "Кратко", el("span", { class: "text", text: card.summary }));
    if (Array.isArray(card.words) && card.words.length) row(dl, "words", "Клиент сказал", listOf(card.words));
    if (Array.isArray(card.answered) && card.answered.length) {
      row(dl, "answered", "Бот уже ответил", listOf(card.answered.map((a) => a.title || a.id)));
    }
    const entities = card.entities || {};
    const found = Object.entries(entities).filter(([, values]) => Array.isArray(values) && values.length);
    if (found.length) {
      const inner = el("dl", {});
      for (const [kind, values] of found) {
        inner.append(el("dt", { text: ENTITY_TITLES[kind] || kind }), el("dd", { text: values.join(", ") }));
      }
      row(dl, "entities", "Найдено в разговоре", inner);
    }
    const complaint = card.complaint || {};
    if (complaint.detected) {
      row(dl, "complaint", "Признаки жалобы", listOf(complaint.evidence || []));
    }
    const history = card.history || {};
    if (history.calls) {
      const head = `За ${history.window_days} дн.: звонков ${history.calls}` +
        (history.topics && history.topics.length ? ` (${history.topics.join(", ")})` : "") +
        (history.last_unresolved ? ", последний не решён" : ", последний решён");
      const recent = (history.recent || []).map((call) => el("li", {},
        el("span", { class: "time", text: dateTimeOf(call.started_at) }), " — ",
        el("span", { text: call.topic_title || "" }), " — ",
        el("span", { class: call.resolved ? "" : "unresolved", text: call.outcome_text || "" }),
        call.summary_line ? el("div", { class: "muted text", text: call.summary_line }) : null));
      row(dl, "history", "Прошлые обращения",
        el("div", {}, el("span", { class: history.last_unresolved ? "unresolved" : "", text: head }), el("ul", {}, recent)));
    }
  }

  function cardNode(card) {
    const box = el("div", { class: "card-body" });
    if (!card || Object.keys(card).length === 0) {
      box.append(el("p", { class: "muted", text: "Карточки нет." }));
      return box;
    }
    const dl = el("dl", {});
    if (card.version === 1) {
      cardV1(card, dl);
    } else {
      // Any other shape: every key, summary first.
      const order = Object.keys(card).sort((a, b) => (a === "summary" ? -1 : b === "summary" ? 1 : 0));
      for (const key of order) row(dl, key, CARD_LABELS[key] || key, valueNode(card[key]));
    }
    box.append(dl);
    return box;
  }

  // --- queue entries ---------------------------------------------------------------------------

  const openCards = new Set();

  function priorityNode(entry) {
    return el("span", { class: "priority-line" },
      el("span", { class: `priority p${Math.min(entry.priority, 3)}`, text: `приоритет ${entry.priority}` }),
      entry.priority_reasons.map((r) => el("span", { class: "badge reason", "data-code": r.code, text: r.title })));
  }

  function entryNode(entry, options) {
    const details = el("details", { class: "card", open: openCards.has(entry.id) },
      el("summary", { text: "Карточка" }), cardNode(entry.card));
    details.addEventListener("toggle", () => {
      if (details.open) openCards.add(entry.id); else openCards.delete(entry.id);
    });
    const actions = el("div", { class: "actions" });
    if (options.take) {
      actions.append(el("button", { type: "button", class: "take primary", text: "Взять звонок",
        onclick: () => take(entry.id) }));
    }
    if (options.open) {
      actions.append(el("a", { class: "open button", href: `/console/calls/${entry.id}`, text: "Открыть звонок" }));
    }
    const since = options.open ? entry.taken_at : entry.enqueued_at;
    return el("article", { class: "entry", "data-entry-id": entry.id, "data-call-id": entry.call_id },
      el("div", { class: "entry-head" },
        priorityNode(entry),
        el("span", { class: "topic", text: entry.topic_title }),
        el("span", { class: "caller", text: entry.caller }),
        el("span", { class: "wait" }, options.open ? "в разговоре " : "ждёт ",
          el("span", { class: "waited", "data-since": since, text: duration(serverNow() - Date.parse(since)) })),
        options.showOperator && entry.operator ? el("span", { class: "muted", text: `оператор ${entry.operator}` }) : null),
      el("div", { class: "entry-reason muted", text: entry.reason_title }),
      details,
      actions);
  }

  function renderList(container, entries, options, emptyText) {
    if (!container) return;
    clear(container);
    if (entries.length === 0) {
      container.append(el("p", { class: "empty", text: emptyText }));
      return;
    }
    for (const entry of entries) container.append(entryNode(entry, options));
  }

  async function take(entryId) {
    const result = await api("POST", `/console/api/queue/${entryId}/take`, {});
    if (result.ok) {
      notice(result.data.message, "info");
      window.location.assign(result.data.url);
    } else {
      notice(result.data.error || "Не удалось взять звонок.", "error");
    }
  }

  async function takeNext() {
    const result = await api("POST", "/console/api/queue/next", {});
    if (result.ok) {
      notice(result.data.message, "info");
      window.location.assign(result.data.url);
    } else {
      notice(result.data.error || "Не удалось взять звонок.", "error");
    }
  }

  // --- pages -----------------------------------------------------------------------------------

  function renderQueue(snap) {
    renderList(document.getElementById("mine"), snap.mine, { open: true }, "Принятых звонков нет.");
    const canTake = Boolean(document.getElementById("take-next"));
    renderList(document.getElementById("waiting"), snap.waiting, { take: canTake }, "Очередь пуста.");
    const count = document.getElementById("waiting-count");
    if (count) count.textContent = String(snap.waiting.length);
  }

  function renderSupervisor(snap) {
    const operators = document.getElementById("operators");
    if (operators && snap.operators) {
      clear(operators);
      for (const op of snap.operators) {
        operators.append(el("tr", { "data-login": op.login, class: `status-${op.status}` },
          el("td", { text: `${op.name} (${op.login})` }),
          el("td", { text: op.role_title }),
          el("td", { text: op.extension || "—" }),
          el("td", { text: op.topics.length ? op.topics.join(", ") : "все" }),
          el("td", { class: "status", text: op.status_title })));
      }
    }
    const active = document.getElementById("active");
    if (active && snap.active) {
      clear(active);
      for (const entry of snap.active) {
        active.append(el("tr", { "data-entry-id": entry.id },
          el("td", { text: entry.caller }),
          el("td", { text: entry.topic_title }),
          el("td", { text: entry.operator || "—" }),
          el("td", { text: entry.taken_at ? timeOf(entry.taken_at) : "—" }),
          el("td", {}, el("span", { class: "waited", "data-since": entry.taken_at, text: duration(serverNow() - Date.parse(entry.taken_at)) })),
          el("td", {}, el("a", { href: `/console/calls/${entry.id}`, text: "Открыть" }))));
      }
      document.getElementById("active-empty").hidden = snap.active.length > 0;
    }
    renderList(document.getElementById("waiting"), snap.waiting, {}, "Очередь пуста.");
    const count = document.getElementById("waiting-count");
    if (count) count.textContent = String(snap.waiting.length);
  }

  // Callbacks: comments being typed survive re-rendering.
  const drafts = new Map();

  function isOverdue(cb) {
    return (cb.state === "open" || cb.state === "taken") && Date.parse(cb.deadline) < serverNow();
  }

  function renderCallbacks(snap) {
    const tbody = document.getElementById("callbacks");
    if (!tbody) return;
    clear(tbody);
    for (const cb of snap.callbacks) {
      const overdue = isOverdue(cb);
      const actions = el("td", { class: "actions" });
      if (cb.state === "open") {
        actions.append(el("button", { type: "button", class: "take-callback primary", text: "Взять",
          onclick: () => takeCallback(cb.id) }));
      } else if (cb.operator === myLogin) {
        const comment = el("input", { class: "comment", placeholder: "Комментарий", value: drafts.get(cb.id) || "",
          maxLength: 2000, oninput: (event) => drafts.set(cb.id, event.target.value) });
        actions.append(comment,
          el("button", { type: "button", class: "done primary", text: "Дозвонились",
            onclick: () => closeCallback(cb.id, true, comment.value) }),
          el("button", { type: "button", class: "failed", text: "Не дозвонились",
            onclick: () => closeCallback(cb.id, false, comment.value) }));
      } else {
        actions.append(el("span", { class: "muted", text: `в работе у ${cb.operator}` }));
      }
      tbody.append(el("tr", { class: overdue ? "callback overdue" : "callback", "data-callback-id": cb.id, "data-deadline": cb.deadline, "data-state": cb.state },
        el("td", {}, el("span", { text: dateTimeOf(cb.deadline) }), " ",
          el("span", { class: "badge overdue-badge", text: "просрочен", hidden: !overdue })),
        el("td", { class: "caller", text: cb.caller }),
        el("td", { text: cb.topic_title }),
        el("td", { class: "summary", text: cb.summary }),
        el("td", { class: "state", text: cb.state_title }),
        el("td", { text: String(cb.attempts) }),
        actions));
    }
    document.getElementById("callbacks-empty").hidden = snap.callbacks.length > 0;
    const count = document.getElementById("callback-count");
    if (count) count.textContent = String(snap.callbacks.length);
  }

  async function takeCallback(id) {
    const result = await api("POST", `/console/api/callbacks/${id}/take`, {});
    notice(result.ok ? result.data.message || "Задача ваша." : result.data.error, result.ok ? "info" : "error");
  }

  async function closeCallback(id, done, comment) {
    const result = await api("POST", `/console/api/callbacks/${id}/close`, { done, comment });
    if (result.ok) drafts.delete(id);
    notice(result.ok ? result.data.message : result.data.error, result.ok ? "info" : "error");
  }

  // The call page: the card, the transcript, the caller's history, closing with a result.
  let callLoaded = false;

  async function loadCall() {
    const entryId = body.dataset.entryId;
    const result = await api("GET", `/console/api/calls/${entryId}`);
    if (!result.ok) {
      notice(result.data.error || "Не удалось загрузить звонок.", "error");
      return;
    }
    const data = result.data;
    syncClock(data.now);
    const entry = data.entry;
    const head = document.getElementById("call-head");
    clear(head);
    head.append(
      el("h1", {}, "Звонок с номера ", el("span", { id: "call-caller", text: entry.caller })),
      el("p", {}, priorityNode(entry), " ", el("span", { class: "topic", text: entry.topic_title }), " · ",
        el("span", { id: "call-state", text: entry.state_title }),
        entry.extension ? ` · переведён на номер ${entry.extension}` : "",
        entry.operator ? ` · оператор ${entry.operator}` : ""),
      el("p", { class: "muted", text: `Почему оператор: ${entry.reason_title}` }));
    const card = document.getElementById("card");
    clear(card);
    card.append(cardNode(entry.card));
    const transcript = document.getElementById("transcript");
    clear(transcript);
    if (data.turns.length === 0) transcript.append(el("li", { class: "muted", text: "Реплик нет." }));
    for (const turn of data.turns) {
      transcript.append(el("li", { class: `turn ${turn.role}` },
        el("span", { class: "time", text: timeOf(turn.at) }),
        el("span", { class: "who", text: turn.role_title }),
        el("span", { class: "text", text: turn.text })));
    }
    const history = document.getElementById("history");
    clear(history);
    if (data.history.length === 0) history.append(el("p", { class: "empty", text: "Других звонков нет." }));
    else {
      history.append(el("ul", { class: "history" }, data.history.map((call) =>
        el("li", {}, el("span", { class: "time", text: dateTimeOf(call.started_at) }), " — ",
          el("span", { text: call.outcome_title }),
          call.topic ? ` (${call.topic})` : "",
          call.summary ? el("div", { class: "muted text", text: call.summary }) : null))));
    }
    const form = document.getElementById("close-form");
    const closed = document.getElementById("closed");
    if (!callLoaded) {
      const select = document.getElementById("result");
      for (const option of data.results) select.append(el("option", { value: option.code, text: option.title }));
      callLoaded = true;
    }
    if (data.mine && entry.state === "taken") {
      form.hidden = false;
      closed.hidden = true;
    } else {
      form.hidden = true;
      closed.hidden = entry.state !== "closed";
      closed.textContent = entry.state === "closed" ? `Звонок закрыт: ${entry.result_title}` : "";
    }
  }

  async function submitClose(event) {
    event.preventDefault();
    const entryId = body.dataset.entryId;
    const result = document.getElementById("result").value;
    const comment = document.getElementById("comment").value;
    if (!result) {
      notice("Выберите результат разговора.", "error");
      return;
    }
    const reply = await api("POST", `/console/api/calls/${entryId}/close`, { result, comment });
    if (reply.ok) {
      notice(reply.data.message, "info");
      await loadCall();
    } else {
      notice(reply.data.error, "error");
    }
  }

  // Users (admins).
  async function loadUsers() {
    const result = await api("GET", "/console/api/users");
    if (!result.ok) {
      notice(result.data.error, "error");
      return;
    }
    const tbody = document.getElementById("users");
    clear(tbody);
    for (const user of result.data.users) {
      const actions = el("td", {});
      if (user.active && user.login !== myLogin) {
        actions.append(el("button", { type: "button", class: "deactivate", text: "Отключить",
          onclick: () => deactivate(user.login) }));
      }
      tbody.append(el("tr", { "data-login": user.login, class: user.active ? "" : "inactive" },
        el("td", { text: user.login }),
        el("td", { text: user.name }),
        el("td", { text: user.role_title }),
        el("td", { text: user.extension || "—" }),
        el("td", { text: user.topics.length ? user.topics.join(", ") : "все" }),
        el("td", { class: "state", text: user.active ? user.status_title : "отключён" }),
        actions));
    }
  }

  async function deactivate(login) {
    const result = await api("POST", `/console/api/users/${encodeURIComponent(login)}/deactivate`, {});
    notice(result.ok ? result.data.message : result.data.error, result.ok ? "info" : "error");
    await loadUsers();
  }

  async function createUser(event) {
    event.preventDefault();
    const form = event.target;
    const payload = Object.fromEntries(new FormData(form).entries());
    const result = await api("POST", "/console/api/users", payload);
    if (result.ok) {
      notice(result.data.message, "info");
      form.reset();
      await loadUsers();
    } else {
      notice(result.data.error, "error");
    }
  }

  // --- live updates ----------------------------------------------------------------------------

  function render(snap) {
    syncClock(snap.now);
    const presence = document.getElementById("presence");
    if (presence && snap.me && document.activeElement !== presence) {
      // "busy" is the queue's doing (a call in hand), shown but not selectable.
      let busy = presence.querySelector('option[value="busy"]');
      if (snap.me.status === "busy") {
        if (!busy) {
          busy = el("option", { value: "busy", text: "разговаривает", disabled: true });
          presence.append(busy);
        }
        presence.value = "busy";
      } else {
        if (busy) busy.remove();
        presence.value = snap.me.status === "away" ? "away" : "available";
      }
    }
    if (page === "queue") renderQueue(snap);
    else if (page === "callbacks") renderCallbacks(snap);
    else if (page === "supervisor") renderSupervisor(snap);
    else if (page === "call") loadCall();
    body.dataset.version = String(snap.version);
  }

  let socket = null;
  let retry = 1000;

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/console/ws`);
    const link = document.getElementById("link");
    socket.addEventListener("open", () => {
      retry = 1000;
      if (link) { link.className = "link up"; link.title = "Связь с сервером есть"; }
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message.type === "snapshot") render(message);
      else if (message.type === "expired") window.location.assign("/console/login");
    });
    socket.addEventListener("close", (event) => {
      if (link) { link.className = "link down"; link.title = "Нет связи с сервером"; }
      if (event.code === 4401) {
        window.location.assign("/console/login");
        return;
      }
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    });
  }

  function tick() {
    const now = serverNow();
    for (const node of document.querySelectorAll("[data-since]")) {
      const since = Date.parse(node.dataset.since);
      if (!Number.isNaN(since)) node.textContent = duration(now - since);
    }
    for (const row of document.querySelectorAll("tr[data-deadline]")) {
      const overdue = Date.parse(row.dataset.deadline) < now &&
        (row.dataset.state === "open" || row.dataset.state === "taken");
      row.classList.toggle("overdue", overdue);
      const badge = row.querySelector(".overdue-badge");
      if (badge) badge.hidden = !overdue;
    }
  }

  function start() {
    if (!myLogin) return; // the login page
    const presence = document.getElementById("presence");
    if (presence) {
      presence.addEventListener("change", async () => {
        const result = await api("POST", "/console/api/presence", { status: presence.value });
        notice(result.ok ? `Статус: ${result.data.status_title}` : result.data.error, result.ok ? "info" : "error");
      });
    }
    const next = document.getElementById("take-next");
    if (next) next.addEventListener("click", takeNext);
    const closeForm = document.getElementById("close-form");
    if (closeForm) closeForm.addEventListener("submit", submitClose);
    const userForm = document.getElementById("user-form");
    if (userForm) userForm.addEventListener("submit", createUser);
    if (page === "users") loadUsers();
    if (page === "call") {
      loadCall();
      setInterval(() => { if (document.getElementById("close-form").hidden === false) loadCall(); }, 3000);
    }
    if (page !== "forbidden") connect();
    setInterval(tick, 1000);
    setInterval(() => {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
    }, 15000);
  }

  start();
})();

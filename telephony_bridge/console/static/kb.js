// The knowledge-base editor: reads and edits entries through /console/kb/api/... (JSON), tries a
// phrase on the newest version and publishes it after a replay preview. Plain JavaScript, no
// build step, nothing from elsewhere; text is shown with textContent only, no inline styles (CSP).
"use strict";

(() => {
  const root = document.getElementById("kb");
  if (!root) return;
  const API = "/console/kb/api";
  const $ = (id) => document.getElementById(id);
  const form = $("kb-form");
  const state = { data: null, current: null, previewVersion: null };
  const KINDS = { answer: "ответ", clarify: "уточняющий вопрос", escalate: "передача оператору" };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function pct(x) {
    return `${(x * 100).toLocaleString("ru-RU", { maximumFractionDigits: 1 })} %`;
  }

  async function call(method, path, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    const reply = await fetch(API + path, options);
    let data = {};
    try {
      data = await reply.json();
    } catch (e) {
      data = { error: `Ошибка сервера (${reply.status}).` };
    }
    if (reply.status === 401 && data.login) window.location.href = data.login;
    return { status: reply.status, data };
  }

  function showError(message) {
    const node = $("kb-error");
    node.textContent = message || "";
    node.hidden = !message;
  }

  // --- the list --------------------------------------------------------------------------------

  function matches(entry, query) {
    if (!query) return true;
    const hay = [entry.id, entry.title, entry.answer, ...entry.questions].join("\n").toLowerCase();
    return query.toLowerCase().split(/\s+/).filter(Boolean).every((w) => hay.includes(w));
  }

  function renderList() {
    const box = clear($("kb-entries"));
    const data = state.data;
    if (!data) return;
    const query = $("kb-search").value.trim();
    const titles = Object.fromEntries(data.topics.map((t) => [t.name, t.title]));
    const groups = new Map();
    for (const entry of data.entries) {
      if (!matches(entry, query)) continue;
      if (!groups.has(entry.topic)) groups.set(entry.topic, []);
      groups.get(entry.topic).push(entry);
    }
    if (!groups.size) box.append(el("p", { class: "empty", text: "Ничего не найдено." }));
    for (const [topic, list] of groups) {
      box.append(el("h2", { class: "kb-topic", text: `${titles[topic] || topic} (${list.length})` }));
      const ul = el("ul", { class: "kb-items" });
      for (const entry of list) {
        const button = el("button", { type: "button", class: "kb-item", "data-id": entry.id },
          el("span", { class: "kb-item-title", text: entry.title || entry.questions[0] || entry.id }),
          el("span", { class: "muted kb-item-id", text: entry.id }),
          entry.escalate ? el("span", { class: "badge", text: "оператор" }) : null);
        if (state.current && state.current.id === entry.id) button.setAttribute("aria-current", "true");
        button.addEventListener("click", () => openEntry(entry));
        ul.append(el("li", {}, button));
      }
      box.append(ul);
    }
    const published = data.published === data.version ? "опубликована" : `опубликована №${data.published ?? "—"}`;
    $("kb-version").textContent = `Версия №${data.version} (${data.author}), ${published}`;
  }

  async function load() {
    const { status, data } = await call("GET", "/entries");
    if (status !== 200) {
      showError(data.error);
      return;
    }
    state.data = data;
    renderList();
    root.dataset.version = String(data.version);
  }

  // --- the form --------------------------------------------------------------------------------

  function clearProblems() {
    for (const ul of form.querySelectorAll("ul.problems, ul.warnings")) clear(ul);
    $("kb-conflict").hidden = true;
  }

  function showProblems(problems, warnings) {
    clearProblems();
    for (const p of problems || []) {
      const ul = form.querySelector(`ul.problems[data-field="${p.field}"]`) || form.querySelector('ul.problems[data-field=""]');
      ul.append(el("li", { text: p.message }));
    }
    for (const w of warnings || []) $("kb-warnings").append(el("li", { text: `Предупреждение: ${w.message}` }));
  }

  function openEntry(entry) {
    state.current = entry;
    const topics = clear($("f-topic"));
    for (const t of state.data.topics) topics.append(el("option", { value: t.name, text: t.title }));
    $("f-id").value = entry ? entry.id : "";
    $("f-title").value = entry ? entry.title : "";
    $("f-topic").value = entry ? entry.topic : (state.data.topics[0] || {}).name || "";
    $("f-questions").value = entry ? entry.questions.join("\n") : "";
    $("f-answer").value = entry ? entry.answer : "";
    $("f-escalate").checked = entry ? entry.escalate : false;
    $("kb-form-title").textContent = entry ? `Запись «${entry.id}»` : "Новая запись";
    $("kb-delete").hidden = !entry;
    clearProblems();
    form.hidden = false;
    $("kb-pick").hidden = true;
    renderList();
    $(entry ? "f-questions" : "f-id").focus();
  }

  function typed() {
    return {
      id: $("f-id").value.trim(),
      title: $("f-title").value.trim(),
      topic: $("f-topic").value,
      questions: $("f-questions").value.split("\n").map((q) => q.trim()).filter(Boolean),
      answer: $("f-answer").value.trim(),
      escalate: $("f-escalate").checked,
    };
  }

  function conflict(message) {
    const node = $("kb-conflict");
    node.textContent = message;
    node.hidden = false;
  }

  async function afterSave(status, data, emptyOk) {
    if (status === 200) {
      await load();
      const saved = data.entry;
      if (saved) {
        openEntry(state.data.entries.find((e) => e.id === saved.id) || saved);
        showProblems([], data.warnings);
      } else if (emptyOk) {
        state.current = null;
        form.hidden = true;
        $("kb-pick").hidden = false;
        renderList();
      }
      showError("");
      return;
    }
    if (status === 422) {
      showProblems(data.problems && data.problems.length ? data.problems : [{ field: "", message: data.error }], []);
    } else if (status === 409) {
      conflict(data.error);
      await load();
    } else {
      showError(data.error);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const entry = typed();
    $("kb-save").disabled = true;
    try {
      const current = state.current;
      const { status, data } = current
        ? await call("PUT", `/entries/${encodeURIComponent(current.id)}`, { ...entry, based_on: current.revision })
        : await call("POST", "/entries", entry);
      await afterSave(status, data, false);
    } finally {
      $("kb-save").disabled = false;
    }
  });

  $("kb-check").addEventListener("click", async () => {
    const current = state.current;
    const body = current ? { ...typed(), original: current.id, based_on: current.revision } : typed();
    const { status, data } = await call("POST", "/check", body);
    if (status === 409) conflict(data.error);
    else if (status !== 200) showProblems([{ field: "", message: data.error }], []);
    else {
      showProblems(data.problems, data.warnings);
      if (data.ok && !(data.warnings || []).length) $("kb-warnings").append(el("li", { class: "ok", text: "Ошибок нет." }));
    }
  });

  $("kb-delete").addEventListener("click", async () => {
    const current = state.current;
    if (!current || !window.confirm(`Удалить запись «${current.id}»? Звонящие перестанут получать этот ответ после публикации.`)) return;
    const path = `/entries/${encodeURIComponent(current.id)}?based_on=${encodeURIComponent(current.revision)}`;
    const { status, data } = await call("DELETE", path);
    await afterSave(status, data, true);
  });

  $("kb-new").addEventListener("click", () => openEntry(null));
  $("kb-cancel").addEventListener("click", () => {
    state.current = null;
    form.hidden = true;
    $("kb-pick").hidden = false;
    renderList();
  });
  $("kb-search").addEventListener("input", renderList);

  // --- try -------------------------------------------------------------------------------------

  $("try-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = clear($("try-result"));
    out.append(el("p", { class: "muted", text: "Проверяю…" }));
    const { status, data } = await call("POST", "/try", { text: $("try-text").value });
    clear(out);
    if (status !== 200 || !data.available) {
      out.append(el("p", { class: "error", text: data.error || "Проверка недоступна." }));
      return;
    }
    const verdict = el("p", { class: "try-verdict", "data-kind": data.kind },
      el("strong", { text: `Решение: ${KINDS[data.kind] || data.kind}` }),
      data.entry_id ? ` — запись «${data.entry_id}»` : "");
    out.append(verdict);
    if (data.answer) out.append(el("blockquote", { class: "try-answer", text: data.answer }));
    const table = el("table", { class: "grid compact", id: "try-candidates" },
      el("thead", {}, el("tr", {}, el("th", { text: "Запись" }), el("th", { text: "Оценка" }))));
    const tbody = el("tbody");
    for (const c of data.candidates) {
      tbody.append(el("tr", {}, el("td", { text: `${c.title || c.entry_id} (${c.entry_id})` }),
        el("td", { text: c.score.toLocaleString("ru-RU", { maximumFractionDigits: 3 }) })));
    }
    table.append(tbody);
    out.append(table);
  });

  // --- publish ---------------------------------------------------------------------------------

  $("publish-preview").addEventListener("click", async () => {
    const out = clear($("publish-report"));
    $("publish-confirm").hidden = true;
    out.append(el("p", { class: "muted", text: "Проверяю новую версию на примерах…" }));
    const { status, data } = await call("POST", "/publish/preview");
    clear(out);
    if (status !== 200) {
      out.append(el("p", { class: "error", text: data.error }));
      return;
    }
    state.previewVersion = data.version;
    if (data.same) out.append(el("p", { text: `Версия №${data.version} уже опубликована: звонящие слышат её.` }));
    if (!data.available) out.append(el("p", { class: "muted", text: data.message }));
    else {
      out.append(el("p", { id: "publish-accuracy", text:
        `Точность на примерах (${data.cases}): было ${pct(data.accuracy_before)}, станет ${pct(data.accuracy_after)}. ` +
        `Неверных ответов: было ${pct(data.wrong_before)}, станет ${pct(data.wrong_after)}.` }));
      if (data.changed.length) {
        const VERDICTS = { better: "лучше", worse: "хуже", neutral: "иначе", changed: "иначе" };
        const show = (o) => `${KINDS[o.kind] || o.kind}${o.entry_id ? ` «${o.entry_id}»` : ""}`;
        const tbody = el("tbody");
        for (const c of data.changed) {
          tbody.append(el("tr", { class: `verdict-${c.verdict}` }, el("td", { text: c.text }),
            el("td", { text: show(c.before) }), el("td", { text: show(c.after) }),
            el("td", { text: VERDICTS[c.verdict] || c.verdict })));
        }
        out.append(el("table", { class: "grid compact", id: "publish-changed" },
          el("thead", {}, el("tr", {}, el("th", { text: "Фраза" }), el("th", { text: "Сейчас" }),
            el("th", { text: "После публикации" }), el("th", { text: "Итог" }))), tbody));
      } else {
        out.append(el("p", { class: "muted", text: "Ни одно решение на примерах не меняется." }));
      }
    }
    if (!data.same) {
      $("publish-confirm").textContent = `Подтвердить публикацию версии №${data.version}`;
      $("publish-confirm").hidden = false;
    }
  });

  $("publish-confirm").addEventListener("click", async () => {
    $("publish-confirm").hidden = true;
    const { status, data } = await call("POST", "/publish", { version: state.previewVersion });
    const out = clear($("publish-report"));
    if (status === 200) {
      out.append(el("p", { class: "notice info", id: "publish-done", text: `Версия №${data.published} опубликована. Мосты подхватят её сами.` }));
      await load();
    } else {
      out.append(el("p", { class: "error", text: data.error }));
    }
  });

  load();
})();

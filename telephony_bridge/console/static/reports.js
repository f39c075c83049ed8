// The reports page: reads /console/reports/api/{name} (JSON) for the chosen period and draws the
// charts as inline SVG built with DOM calls. Plain JavaScript, no build step, nothing from
// elsewhere; no HTML is made from data (textContent only) and no inline styles (CSP).
"use strict";

(() => {
  const root = document.getElementById("reports");
  if (!root) return;
  const API = "/console/reports/api/";
  const SVG = "http://www.w3.org/2000/svg";
  const tz = root.dataset.tz;
  const today = root.dataset.today;
  const currency = root.dataset.currency || "";
  const titlesNode = document.getElementById("titles");
  const OUTCOMES = JSON.parse(titlesNode.dataset.outcomes || "{}");
  const LOST_REASONS = JSON.parse(titlesNode.dataset.lostReasons || "{}");
  const PALETTE = ["#1f5fbf", "#3ccf7a", "#f2b233", "#e0603e", "#8e5fd6", "#23a3b3", "#b7bcc6",
    "#d64f8e", "#7a8f2a", "#5a6b85", "#c98b2b", "#2e7d4f"];
  const state = { since: null, until: null, loads: 0 };

  // --- helpers -------------------------------------------------------------------------------

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

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function num(n, digits) {
    if (n === null || n === undefined) return "—";
    return Number(n).toLocaleString("ru-RU", { maximumFractionDigits: digits ?? 0 });
  }

  function pct(x) {
    if (x === null || x === undefined) return "—";
    return `${num(x * 100, 1)} %`;
  }

  function sec(s) {
    if (s === null || s === undefined) return "—";
    if (s < 60) return `${num(s, 1)} с`;
    const m = Math.floor(s / 60);
    const rest = Math.round(s - m * 60);
    return `${m} мин ${String(rest).padStart(2, "0")} с`;
  }

  function money(x) {
    return `${num(x, 0)} ${currency}`.trim();
  }

  function addDays(iso, days) {
    const d = new Date(`${iso}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  function ruDate(iso) {
    const [y, m, d] = iso.split("-");
    return `${d}.${m}.${y}`;
  }

  const dateTimeFormat = new Intl.DateTimeFormat("ru-RU", {
    timeZone: tz, day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit",
  });
  function when(iso) {
    return iso ? dateTimeFormat.format(new Date(iso)) : "—";
  }

  function query(extra) {
    const params = new URLSearchParams({ since: state.since, until: state.until, tz });
    for (const [k, v] of Object.entries(extra || {})) params.set(k, v);
    return params.toString();
  }

  async function fetchReport(name, extra) {
    const response = await fetch(`${API}${name}?${query(extra)}`, {
      headers: { Accept: "application/json" }, credentials: "same-origin",
    });
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = { error: `Сервер ответил ${response.status}.` };
    }
    if (response.status === 401) window.location.assign("/console/login");
    if (!response.ok) throw new Error(data.error || `Ошибка ${response.status}`);
    return data;
  }

  function showError(message) {
    const box = document.getElementById("reports-error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function fillRows(tbody, rows) {
    clear(tbody);
    for (const cells of rows) {
      tbody.append(el("tr", {}, cells.map((c) => (c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c)))));
    }
  }

  function head(table, titles) {
    const thead = table.querySelector("thead");
    clear(thead).append(el("tr", {}, titles.map((t) => el("th", { text: t }))));
  }

  function emptyRow(tbody, columns, text) {
    clear(tbody).append(el("tr", {}, el("td", { colspan: columns, class: "empty", text })));
  }

  // --- charts --------------------------------------------------------------------------------

  // Bars for the items with a value (zero items leave a gap); labels every `every` items.
  function barChart(container, items, options) {
    const opts = options || {};
    const width = 960;
    const height = opts.height || 180;
    const top = 18;
    const bottom = 22;
    const left = 44;
    const plot = height - top - bottom;
    const max = Math.max(0, ...items.map((i) => i.value || 0));
    const step = (width - left) / Math.max(1, items.length);
    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${height}`, class: "bars", role: "img",
      "aria-label": opts.label || "", preserveAspectRatio: "none",
    });
    chart.append(svg("line", { x1: left, y1: top + plot, x2: width, y2: top + plot, class: "axis" }));
    chart.append(svg("text", { x: left - 6, y: top + 4, class: "tick", "text-anchor": "end", text: opts.format ? opts.format(max) : num(max) }));
    chart.append(svg("text", { x: left - 6, y: top + plot, class: "tick", "text-anchor": "end", text: "0" }));
    const every = opts.every || Math.max(1, Math.ceil(items.length / 24));
    items.forEach((item, i) => {
      const x = left + i * step;
      if (item.value > 0 && max > 0) {
        const h = Math.max(1, (item.value / max) * plot);
        chart.append(svg("rect", {
          x: x + step * 0.12, y: top + plot - h, width: Math.max(0.5, step * 0.76), height: h,
          class: "bar", "data-bucket": item.key,
        }, svg("title", { text: `${item.title || item.label}: ${opts.format ? opts.format(item.value) : num(item.value, 1)}` })));
      }
      if (i % every === 0) {
        chart.append(svg("text", { x: x + step / 2, y: height - 6, class: "tick", "text-anchor": "middle", text: item.label }));
      }
    });
    clear(container).append(chart);
  }

  function stackedBar(container, parts) {
    const total = parts.reduce((s, p) => s + p.value, 0);
    clear(container);
    if (!total) {
      container.append(el("p", { class: "empty", text: "Звонков за период нет." }));
      return;
    }
    const width = 960;
    const chart = svg("svg", { viewBox: `0 0 ${width} 34`, class: "stack", role: "img", "aria-label": "Итоги звонков", preserveAspectRatio: "none" });
    const legend = el("ul", { class: "legend" });
    let x = 0;
    parts.forEach((p, i) => {
      const color = PALETTE[i % PALETTE.length];
      if (p.value > 0) {
        const w = (p.value / total) * width;
        chart.append(svg("rect", { x, y: 0, width: w, height: 34, fill: color, class: "seg", "data-outcome": p.key },
          svg("title", { text: `${p.label}: ${num(p.value)} (${pct(p.value / total)})` })));
        x += w;
      }
      const swatch = svg("svg", { width: 12, height: 12, class: "swatch" }, svg("rect", { width: 12, height: 12, fill: color }));
      legend.append(el("li", {}, swatch, ` ${p.label}: ${num(p.value)}`));
    });
    container.append(chart, legend);
  }

  // --- sections ------------------------------------------------------------------------------

  function renderVolume(days, hours) {
    barChart(document.getElementById("chart-day"), days.rows.map((r) => ({
      key: r.bucket, value: r.calls, label: r.bucket.slice(8, 10), title: ruDate(r.bucket),
    })), { label: "Звонки по дням", every: days.rows.length > 40 ? 7 : 1 });
    const long = hours.rows.length > 48; // label days, not hours
    barChart(document.getElementById("chart-hour"), hours.rows.map((r) => ({
      key: r.bucket, value: r.calls, label: long ? r.bucket.slice(8, 10) : r.bucket.slice(11, 13),
      title: `${ruDate(r.bucket.slice(0, 10))} ${r.bucket.slice(11, 13)}:00`,
    })), { label: "Звонки по часам", every: long ? 24 : 3 });
  }

  function renderOutcomes(o) {
    const parts = Object.entries(o.by_outcome)
      .map(([key, value]) => ({ key, value, label: OUTCOMES[key] || key }))
      .sort((a, b) => b.value - a.value);
    stackedBar(document.getElementById("chart-outcomes"), parts);
    fillRows(document.querySelector("#outcome-table tbody"),
      parts.filter((p) => p.value > 0).map((p) => [p.label, num(p.value), pct(o.calls ? p.value / o.calls : null)]));
    const q = o.queue_by_state;
    const cb = o.callbacks_by_state;
    fillRows(document.querySelector("#outcome-extra tbody"), [
      ["Всего звонков", num(o.calls)],
      ["Бот ответил (поднял трубку)", num(o.answered_by_bot)],
      ["Бот решил вопрос сам", pct(o.contained_share)],
      ["Переведены, оператор ответил", num(o.escalated_answered)],
      ["Переведены напрямую, без очереди", num(o.escalated_direct)],
      ["Бросили трубку в очереди", num(q.abandoned)],
      ["Ещё ждут в очереди (из поставленных за период)", num(q.waiting)],
      ["Обратных звонков заказано", num(Object.values(cb).reduce((s, v) => s + v, 0))],
      ["Обратных звонков выполнено", num(cb.done)],
      ["Обратные звонки: не дозвонились / отменены", `${num(cb.failed)} / ${num(cb.cancelled)}`],
      ["Обратные звонки просрочены", num(o.callbacks_overdue)],
    ]);
  }

  function statsCells(title, s) {
    return [title, num(s.count), sec(s.mean), sec(s.p50), sec(s.p95), sec(s.max)];
  }

  function renderTimes(a, t) {
    const rows = [
      statsCells("Ответ бота", a.bot),
      statsCells("Ответ оператора (ожидание в очереди)", a.operator),
      statsCells("Длительность звонка", t.calls),
      statsCells("Разговор оператора", t.operator),
    ];
    for (const [key, s] of Object.entries(t.by_outcome)) {
      if (s.count) rows.push(statsCells(`Длительность: ${OUTCOMES[key] || key}`, s));
    }
    fillRows(document.querySelector("#times-table tbody"), rows);
    document.getElementById("service-level").textContent =
      `Уровень сервиса: ${pct(a.service_level)} звонков в очереди приняты за ${num(a.target_s)} с ` +
      `(${num(a.taken_within_target)} из ${num(a.waits_ended)}).`;
  }

  function renderWait(w) {
    barChart(document.getElementById("chart-wait"), w.rows.map((r) => ({
      key: String(r.hour), value: r.taken_wait.p50 || 0, label: String(r.hour).padStart(2, "0"),
      title: `${String(r.hour).padStart(2, "0")}:00, медиана ожидания`,
    })), { label: "Медиана ожидания по часам", every: 1, format: sec });
    const bins = w.rows.length ? Object.keys(w.rows[0].histogram) : [];
    const table = document.getElementById("wait-table");
    head(table, ["Час", "Поступило", "Принято", "Бросили", "В обр. звонок", "p50", "p95",
      `Принято за ${num(w.target_s)} с`, ...bins.map((b) => `${b} с`)]);
    const rows = w.rows.filter((r) => r.offered > 0).map((r) => [
      `${String(r.hour).padStart(2, "0")}:00`, num(r.offered), num(r.taken), num(r.abandoned),
      num(r.callback), sec(r.taken_wait.p50), sec(r.taken_wait.p95), pct(r.service_level),
      ...bins.map((b) => num(r.histogram[b])),
    ]);
    const tbody = table.querySelector("tbody");
    if (rows.length) fillRows(tbody, rows);
    else emptyRow(tbody, 8 + bins.length, "В очереди за период никого не было.");
  }

  function renderLoad(l) {
    const tbody = document.querySelector("#load-table tbody");
    if (!l.rows.length) return emptyRow(tbody, 6, "Операторов нет.");
    fillRows(tbody, l.rows.map((r) => [
      r.name ? `${r.name} (${r.login})` : r.login, num(r.taken), sec(r.handle.mean), sec(r.handle.p95),
      pct(r.busy_share), num(r.callbacks_done),
    ]));
  }

  function renderContainment(table, c, keyTitle) {
    head(table, [keyTitle, ...(c.by === "entry" ? ["Тема"] : []), "Звонков", "Бот решил сам",
      `…и без повтора за ${c.window_days} дн.`, "Попросили человека", "Повторные"]);
    const tbody = table.querySelector("tbody");
    if (!c.rows.length) return emptyRow(tbody, 7, "Нет звонков с ответами бота.");
    fillRows(tbody, c.rows.map((r) => [
      r.key, ...(c.by === "entry" ? [r.topic] : []), num(r.calls),
      `${num(r.contained)} (${pct(r.contained_share)})`,
      `${num(r.contained_no_repeat)} (${pct(r.contained_no_repeat_share)})`,
      num(r.to_person), num(r.repeated),
    ]));
  }

  function renderRepeats(r) {
    document.getElementById("repeat-summary").textContent =
      `Из ${num(r.calls)} звонков с определившимся номером ${num(r.repeated)} (${pct(r.repeat_share)}) ` +
      `повторились в течение ${r.window_days} дн.`;
    const topics = Object.entries(r.by_topic);
    const tTopics = document.querySelector("#repeat-topics tbody");
    if (topics.length) fillRows(tTopics, topics.map(([k, v]) => [k, num(v)]));
    else emptyRow(tTopics, 2, "Повторных звонков нет.");
    const tCallers = document.querySelector("#repeat-callers tbody");
    if (!r.rows.length) return emptyRow(tCallers, 5, "Повторных звонков нет.");
    fillRows(tCallers, r.rows.map((c) => [
      el("td", {}, el("a", { href: `tel:${c.caller}`, text: c.caller })), num(c.calls), num(c.repeated),
      c.topics.join(", "), when(c.last_at),
    ]));
  }

  function renderLost(l) {
    document.getElementById("lost-summary").textContent =
      `Потеряно звонков: ${num(l.total)}. Позже связались: ${num(l.recovered_by_call)} сами перезвонили, ` +
      `${num(l.recovered_by_callback)} — нашим обратным звонком. Не связались: ${num(l.not_recovered)}, ` +
      `из них номеров, по которым можно перезвонить: ${num(l.callers_to_call_back)}.`;
    fillRows(document.querySelector("#lost-reasons tbody"), Object.entries(l.by_reason)
      .map(([k, v]) => [LOST_REASONS[k] || k, num(v)]));
    const rank = (c) => (c.callable ? (c.recovered_by ? 1 : 0) : 2);
    const rows = [...l.rows].sort((a, b) => rank(a) - rank(b)); // stable: newest first within
    const tbody = document.querySelector("#lost-table tbody");
    if (!rows.length) return emptyRow(tbody, 5, "Потерянных звонков нет.");
    clear(tbody);
    for (const c of rows) {
      const number = c.callable
        ? el("a", { href: `tel:${c.caller}`, class: "tel", text: c.caller })
        : el("span", { class: "muted", text: "номер скрыт" });
      const recovered = c.recovered_by === "call" ? `сам перезвонил ${when(c.recovered_at)}`
        : c.recovered_by === "callback" ? `обратный звонок ${when(c.recovered_at)}` : "нет";
      tbody.append(el("tr", { class: c.callable && !c.recovered_by ? "to-call" : "", "data-callable": c.callable ? "1" : "0" },
        el("td", {}, number), el("td", { text: when(c.started_at) }),
        el("td", { text: LOST_REASONS[c.reason] || c.reason }), el("td", { text: c.topic || "—" }),
        el("td", { text: recovered })));
    }
  }

  function renderRatings(r) {
    const summary = document.getElementById("rating-summary");
    const chart = document.getElementById("chart-ratings");
    const table = document.getElementById("rating-table");
    if (!r.rated) {
      summary.textContent = "Оценок за период нет. Чтобы бот спрашивал оценку после ответа, " +
        "включите post_call_rating: true в bot.yaml.";
      clear(chart);
      clear(table.querySelector("thead"));
      clear(table.querySelector("tbody"));
      return;
    }
    summary.textContent = `Средняя оценка ${num(r.mean, 2)} из 5; оценили ${num(r.rated)} звонков — ` +
      `${pct(r.rated_share)} всех и ${pct(r.rated_share_resolved)} решённых ботом.`;
    barChart(chart, Object.entries(r.distribution).map(([k, v]) => ({ key: k, value: v, label: k, title: `Оценка ${k}` })),
      { label: "Распределение оценок", every: 1, height: 140 });
    head(table, ["Тема", "Оценок", "Средняя", "1", "2", "3", "4", "5"]);
    fillRows(table.querySelector("tbody"), r.rows.map((row) => [
      row.topic, num(row.rated), num(row.mean, 2), ...Object.values(row.distribution).map((v) => num(v)),
    ]));
  }

  function staffingParams() {
    return {
      answer_within_s: document.getElementById("answer-within").value,
      share_pct: document.getElementById("share").value,
      shrinkage_pct: document.getElementById("shrinkage").value,
    };
  }

  function revenueParams() {
    return {
      conversion_pct: document.getElementById("conversion").value,
      deal_value: document.getElementById("deal-value").value,
      counted: document.getElementById("counted").value,
    };
  }

  function renderStaffing(s) {
    const rows = s.rows.filter((r) => r.offered > 0);
    document.getElementById("staffing-summary").textContent =
      `Чтобы принимать ${pct(s.share)} звонков за ${num(s.answer_within_s)} с, в пиковый час нужно ` +
      `${num(s.peak_scheduled)} операторов в смене (с учётом потерь ${pct(s.shrinkage)}); ` +
      `всего ${num(s.scheduled_hours_per_day)} операторо-часов в сутки.`;
    const tbody = document.querySelector("#staffing-table tbody");
    if (!rows.length) return emptyRow(tbody, 8, "Звонков к операторам за период не было.");
    clear(tbody);
    for (const r of rows) {
      tbody.append(el("tr", { "data-hour": r.hour },
        el("td", { text: `${String(r.hour).padStart(2, "0")}:00` }),
        el("td", { text: num(r.arrivals_per_hour, 1) }),
        el("td", { text: r.mean_handle_s === null ? `${sec(r.handle_s)} (по умолчанию)` : sec(r.handle_s) }),
        el("td", { text: num(r.traffic_erlangs, 2) }),
        el("td", { class: "agents", text: num(r.agents) }),
        el("td", { class: "scheduled", text: num(r.scheduled) }),
        el("td", { text: pct(r.service_level) }),
        el("td", { text: sec(r.mean_wait_s) })));
    }
  }

  function renderRevenue(v) {
    document.getElementById("revenue").textContent =
      `${num(v.lost_calls)} потерянных звонков × ${pct(v.conversion_rate)} × ${money(v.average_deal_value)} ≈ ` +
      `${num(v.lost_deals, 1)} сделок, упущенная выручка ≈ ${money(v.lost_revenue)}`;
    document.getElementById("revenue").dataset.value = String(v.lost_revenue);
  }

  // --- loading -------------------------------------------------------------------------------

  function updateLinks() {
    for (const link of document.querySelectorAll("a.csv")) {
      const name = link.dataset.report;
      const extra = name === "staffing" ? staffingParams() : name === "lost_revenue" ? revenueParams() : {};
      link.href = `${API}${name}.csv?${query(extra)}`;
    }
  }

  function markLoaded() {
    state.loads += 1;
    root.dataset.loaded = String(state.loads);
  }

  async function loadStaffing() {
    updateLinks();
    try {
      renderStaffing(await fetchReport("staffing", staffingParams()));
      showError("");
    } catch (error) {
      showError(error.message);
    }
    markLoaded();
  }

  async function loadRevenue() {
    updateLinks();
    try {
      renderRevenue(await fetchReport("lost_revenue", revenueParams()));
      showError("");
    } catch (error) {
      showError(error.message);
    }
    markLoaded();
  }

  async function loadAll() {
    const inclusiveEnd = addDays(state.until, -1);
    document.getElementById("since").value = state.since;
    document.getElementById("until").value = inclusiveEnd;
    document.getElementById("period-title").textContent =
      `Период: с ${ruDate(state.since)} по ${ruDate(inclusiveEnd)} (${tz})`;
    const url = new URL(window.location.href);
    url.searchParams.set("since", state.since);
    url.searchParams.set("until", state.until);
    window.history.replaceState(null, "", url);
    updateLinks();
    const names = ["calls_per_day", "calls_per_hour", "outcomes", "answer_times", "talk_durations",
      "wait_by_hour", "operator_load", "containment_by_topic", "containment_by_entry",
      "repeat_calls", "lost_calls", "ratings"];
    try {
      const got = await Promise.all(names.map((n) => fetchReport(n)));
      const r = Object.fromEntries(names.map((n, i) => [n, got[i]]));
      renderVolume(r.calls_per_day, r.calls_per_hour);
      renderOutcomes(r.outcomes);
      renderTimes(r.answer_times, r.talk_durations);
      renderWait(r.wait_by_hour);
      renderLoad(r.operator_load);
      renderContainment(document.getElementById("topic-table"), r.containment_by_topic, "Тема");
      renderContainment(document.getElementById("entry-table"), r.containment_by_entry, "Ответ базы знаний");
      renderRepeats(r.repeat_calls);
      renderLost(r.lost_calls);
      renderRatings(r.ratings);
      renderStaffing(await fetchReport("staffing", staffingParams()));
      renderRevenue(await fetchReport("lost_revenue", revenueParams()));
      showError("");
    } catch (error) {
      showError(error.message);
    }
    markLoaded();
  }

  function setPreset(preset) {
    const days = preset === "today" ? 1 : Number(preset);
    state.since = addDays(today, 1 - days);
    state.until = addDays(today, 1);
    for (const b of document.querySelectorAll("[data-preset]")) {
      b.setAttribute("aria-pressed", b.dataset.preset === preset ? "true" : "false");
    }
    loadAll();
  }

  function debounce(fn, ms) {
    let timer = null;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function start() {
    for (const b of document.querySelectorAll("[data-preset]")) {
      b.addEventListener("click", () => setPreset(b.dataset.preset));
    }
    document.getElementById("period").addEventListener("submit", (event) => {
      event.preventDefault();
      const since = document.getElementById("since").value;
      const until = document.getElementById("until").value;
      if (!since || !until) return showError("Укажите обе даты периода.");
      if (until < since) return showError("Дата «по» раньше даты «с».");
      for (const b of document.querySelectorAll("[data-preset]")) b.setAttribute("aria-pressed", "false");
      state.since = since;
      state.until = addDays(until, 1);
      loadAll();
    });
    const staffing = debounce(loadStaffing, 250);
    for (const id of ["answer-within", "share", "shrinkage"]) {
      document.getElementById(id).addEventListener("input", staffing);
    }
    const revenue = debounce(loadRevenue, 250);
    for (const id of ["conversion", "deal-value", "counted"]) {
      document.getElementById(id).addEventListener(id === "counted" ? "change" : "input", revenue);
    }
    const params = new URLSearchParams(window.location.search);
    const dateOnly = /^\d{4}-\d{2}-\d{2}$/;
    if (dateOnly.test(params.get("since") || "") && dateOnly.test(params.get("until") || "")) {
      state.since = params.get("since");
      state.until = params.get("until");
      loadAll();
    } else {
      setPreset("7");
    }
  }

  start();
})();

// The Quilt gallery page: renders the grid from data/index.js and loads data/chunks/NNNNN.js and
// data/search/XX.js on demand with <script> tags (Chromium blocks fetch() of file:// URLs).
"use strict";
(function () {
  // Field order of a row in a chunk file (quilt_hf/gallery/site.py _chunk_row).
  const ROW = { caption: 0, subset: 1, split: 2, mag: 3, pathology: 4, umls: 5, link: 6, label: 7, thumb: 8, video: 9, source: 10 };
  const FACETS = ["subset", "split", "pathology", "magnification"];
  const FACET_FIELD = { subset: ROW.subset, split: ROW.split, magnification: ROW.mag, pathology: ROW.pathology };
  const CACHE_CHUNKS = 64; // chunks kept in memory (LRU); others are loaded again when needed
  const SHOWN_ENTITIES = 4;

  let INDEX = null;
  const received = new Map(); // chunk id -> rows, handed over by Quilt.chunk while a script runs
  const receivedShards = new Map();
  const chunks = new Map(); // LRU cache of loaded chunks
  const loading = new Map();
  const shards = new Map();

  window.Quilt = {
    index(data) { INDEX = data; },
    chunk(id, rows) { received.set(id, rows); },
    tokens(name, tokens) { receivedShards.set(name, tokens); },
  };

  // --- tokenizer: the twin of quilt_hf/gallery/search_index.py (keep them identical) ---
  function tokenize(text) {
    return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []).filter((t) => [...t].length >= 2);
  }
  function shardName(token) {
    const head = [...token].slice(0, 2);
    const joined = head.join("");
    if (/^[a-z0-9]{2}$/.test(joined)) return joined;
    return "u" + head.map((c) => c.codePointAt(0).toString(16)).join("_");
  }

  // --- loading ---
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => { script.remove(); resolve(); };
      script.onerror = () => { script.remove(); reject(new Error("could not load " + src)); };
      document.head.appendChild(script);
    });
  }

  function getChunk(id) {
    if (chunks.has(id)) {
      const rows = chunks.get(id);
      chunks.delete(id);
      chunks.set(id, rows);
      return Promise.resolve(rows);
    }
    if (!loading.has(id)) {
      const src = "data/chunks/" + String(id).padStart(5, "0") + ".js";
      loading.set(id, loadScript(src).then(() => {
        const rows = received.get(id);
        received.delete(id);
        if (!rows) throw new Error(src + " did not register its rows");
        chunks.set(id, rows);
        while (chunks.size > CACHE_CHUNKS) chunks.delete(chunks.keys().next().value);
        return rows;
      }).finally(() => loading.delete(id)));
    }
    return loading.get(id);
  }

  async function getShard(name) {
    if (!shards.has(name)) {
      await loadScript("data/search/" + name + ".js");
      shards.set(name, receivedShards.get(name) || {});
      receivedShards.delete(name);
    }
    return shards.get(name);
  }

  // --- query state ---
  const state = { filters: {}, query: "", page: 0 };
  let results = null;
  let generation = 0;
  let shardNames = null;

  function activeFacets() {
    return FACETS.filter((f) => state.filters[f] !== undefined);
  }

  async function candidateChunks(words) {
    let all = INDEX.chunks.map((_, i) => i);
    for (const facet of activeFacets()) {
      const value = state.filters[facet];
      all = all.filter((c) => (INDEX.chunks[c].f[facet][value] || 0) > 0);
    }
    for (const word of words) {
      const name = shardName(word);
      const found = new Set();
      if (shardNames.has(name)) {
        const tokens = await getShard(name);
        for (const token in tokens) {
          if (token.startsWith(word)) for (const c of tokens[token]) found.add(c);
        }
      }
      all = all.filter((c) => found.has(c));
      if (!all.length) break;
    }
    return all;
  }

  function rowMatches(row, words) {
    for (const facet of activeFacets()) {
      const value = state.filters[facet];
      const field = row[FACET_FIELD[facet]];
      if (facet === "pathology" ? !field.includes(value) : field !== value) return false;
    }
    if (words.length) {
      const tokens = tokenize(row[ROW.caption]);
      for (const word of words) if (!tokens.some((t) => t.startsWith(word))) return false;
    }
    return true;
  }

  // Exact count when the index alone can tell; null otherwise.
  function indexedTotal(words) {
    const facets = activeFacets();
    if (words.length || facets.length > 1) return null;
    if (!facets.length) return INDEX.total;
    const facet = facets[0];
    return INDEX.chunks.reduce((sum, c) => sum + (c.f[facet][state.filters[facet]] || 0), 0);
  }

  async function startQuery() {
    const gen = ++generation;
    const words = tokenize(state.query);
    const order = await candidateChunks(words);
    if (gen !== generation) return null;
    results = { gen, words, order, next: 0, matches: [], total: indexedTotal(words) };
    return results;
  }

  // Scan candidate chunks in order until `wanted` matches are known (or none are left).
  async function ensure(wanted) {
    const r = results;
    while (r.matches.length < wanted && r.next < r.order.length) {
      const id = r.order[r.next++];
      const rows = await getChunk(id);
      if (r.gen !== generation) return false;
      for (let i = 0; i < rows.length; i++) if (rowMatches(rows[i], r.words)) r.matches.push([id, i]);
    }
    return r.gen === generation;
  }

  // --- rendering ---
  const $ = (id) => document.getElementById(id);
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }
  function valueLabel(facet, value) {
    if (facet === "magnification") return INDEX.magnification_labels[String(value)] + " mag";
    return String(value) || "(unset)";
  }
  function entityChip(cui) {
    const name = INDEX.umls_names[cui];
    return el("span", { class: "chip umls", title: name ? cui + ": " + name : cui, text: name || cui });
  }

  function card(row) {
    const facetValue = (facet, index) => INDEX.facets[facet][index];
    const subset = facetValue("subset", row[ROW.subset]);
    const thumb = row[ROW.thumb]
      ? el("img", { src: row[ROW.thumb], alt: "", loading: "lazy", decoding: "async" })
      : el("div", { class: "no-image", text: "no image" });
    const tags = el("div", { class: "tags" },
      el("span", { class: "tag subset subset-" + subset, text: subset }),
      el("span", { class: "tag", text: facetValue("split", row[ROW.split]) }),
      el("span", { class: "tag mag", text: valueLabel("magnification", facetValue("magnification", row[ROW.mag])) }));
    for (const p of row[ROW.pathology]) {
      const name = facetValue("pathology", p);
      if (name !== "(none)") tags.append(el("span", { class: "tag pathology", text: name }));
    }
    const entities = el("div", { class: "entities" });
    row[ROW.umls].slice(0, SHOWN_ENTITIES).forEach((cui) => entities.append(entityChip(cui)));
    if (row[ROW.umls].length > SHOWN_ENTITIES) entities.append(el("span", { class: "chip more", text: "+" + (row[ROW.umls].length - SHOWN_ENTITIES) }));
    const links = el("div", { class: "links" });
    if (row[ROW.link]) links.append(el("a", { href: row[ROW.link], target: "_blank", rel: "noopener", text: row[ROW.label] + " ↗" }));
    else if (row[ROW.label]) links.append(el("span", { class: "muted", text: row[ROW.label] }));
    if (row[ROW.video]) links.append(el("a", { href: row[ROW.video], class: "timeline-link", text: "timeline" }));
    const node = el("article", { class: "card", tabindex: "0" },
      el("div", { class: "thumb" }, thumb),
      el("div", { class: "body" }, el("p", { class: "caption", text: row[ROW.caption] }), tags, entities, links));
    node.addEventListener("click", (event) => { if (!event.target.closest("a")) showDetail(row); });
    node.addEventListener("keydown", (event) => { if (event.key === "Enter") showDetail(row); });
    return node;
  }

  function showDetail(row) {
    const body = $("detail-body");
    body.replaceChildren();
    if (row[ROW.thumb]) body.append(el("img", { src: row[ROW.thumb], alt: "", class: "big" }));
    const facts = el("dl", {});
    const add = (name, value) => { if (value) facts.append(el("dt", { text: name }), el("dd", {}, value)); };
    add("Caption", el("span", { text: row[ROW.caption] }));
    add("Source id", el("code", { text: row[ROW.source] }));
    add("Pathology", el("span", { text: row[ROW.pathology].map((p) => INDEX.facets.pathology[p]).join(", ") }));
    if (row[ROW.umls].length) {
      const list = el("div", { class: "entities" });
      row[ROW.umls].forEach((cui) => list.append(entityChip(cui)));
      add("UMLS", list);
    }
    if (row[ROW.link]) add("Link", el("a", { href: row[ROW.link], target: "_blank", rel: "noopener", text: row[ROW.link] }));
    body.append(facts);
    $("detail").showModal();
  }

  function pageCount() {
    return results.total !== null ? Math.max(1, Math.ceil(results.total / INDEX.page_size)) : null;
  }

  async function render() {
    const r = results;
    if (!r) return;
    const size = INDEX.page_size;
    const grid = $("grid");
    grid.dataset.state = "loading";
    const ok = await ensure((state.page + 1) * size + 1); // +1: is there a next page?
    if (!ok || r !== results) return;
    if (state.page > 0 && r.matches.length <= state.page * size) state.page = Math.max(0, Math.ceil(r.matches.length / size) - 1);
    const slice = r.matches.slice(state.page * size, (state.page + 1) * size);
    const rows = [];
    for (const [id, i] of slice) {
      const chunkRows = await getChunk(id);
      if (r !== results) return;
      rows.push(chunkRows[i]);
    }
    grid.replaceChildren(...rows.map(card));
    if (!rows.length) grid.append(el("p", { class: "empty", text: "No pairs match these filters." }));
    const done = r.next >= r.order.length;
    const known = r.total !== null ? r.total : (done ? r.matches.length : null);
    const first = slice.length ? state.page * size + 1 : 0;
    const last = state.page * size + slice.length;
    $("count").textContent = known !== null
      ? `${first.toLocaleString()}–${last.toLocaleString()} of ${known.toLocaleString()} pairs`
      : `${first.toLocaleString()}–${last.toLocaleString()} of ${r.matches.length.toLocaleString()}+ pairs (searched ${r.next} of ${r.order.length} candidate chunks)`;
    const pages = known !== null ? Math.max(1, Math.ceil(known / size)) : pageCount();
    $("page").textContent = pages ? `page ${state.page + 1} / ${pages}` : `page ${state.page + 1}`;
    const hasNext = r.matches.length > (state.page + 1) * size;
    for (const id of ["prev", "prev2"]) $(id).disabled = state.page === 0;
    for (const id of ["next", "next2"]) $(id).disabled = !hasNext;
    grid.dataset.state = "ready";
    grid.dataset.page = String(state.page);
    grid.dataset.chunksLoaded = String(r.next);
    writeHash();
    if (!window.quiltFirstRender) {
      window.quiltFirstRender = performance.now();
      performance.mark("quilt-first-grid");
    }
  }

  function fail(error) {
    $("count").textContent = "Error: " + error.message;
    $("count").classList.add("error");
    $("grid").dataset.state = "error";
    console.error(error);
  }

  async function refresh(keepPage) {
    if (!keepPage) state.page = 0;
    try {
      if (await startQuery()) await render();
    } catch (error) {
      fail(error);
    }
  }

  // --- controls and the URL hash (so a view can be shared) ---
  function facetTotals(facet) {
    const totals = INDEX.facets[facet].map(() => 0);
    for (const c of INDEX.chunks) (c.f[facet] || []).forEach((n, i) => { totals[i] += n; });
    return totals;
  }

  function fillSelect(facet) {
    const select = document.querySelector(`select[data-facet="${facet}"]`);
    const totals = facetTotals(facet);
    const order = INDEX.facets[facet].map((_, i) => i).filter((i) => totals[i] > 0);
    if (facet === "pathology") order.sort((a, b) => totals[b] - totals[a]);
    select.append(el("option", { value: "", text: "all" }));
    for (const i of order) select.append(el("option", { value: String(i), text: `${valueLabel(facet, INDEX.facets[facet][i])} (${totals[i].toLocaleString()})` }));
    select.addEventListener("change", () => {
      if (select.value === "") delete state.filters[facet]; else state.filters[facet] = Number(select.value);
      refresh(false);
    });
  }

  function writeHash() {
    const params = new URLSearchParams();
    if (state.query) params.set("q", state.query);
    for (const facet of activeFacets()) params.set(facet, String(INDEX.facets[facet][state.filters[facet]]));
    if (state.page) params.set("page", String(state.page + 1));
    const hash = params.toString();
    if (hash !== location.hash.slice(1)) history.replaceState(null, "", hash ? "#" + hash : location.pathname);
  }

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    state.query = params.get("q") || "";
    state.filters = {};
    for (const facet of FACETS) {
      if (!params.has(facet)) continue;
      const index = INDEX.facets[facet].findIndex((v) => String(v) === params.get(facet));
      if (index >= 0) state.filters[facet] = index;
    }
    state.page = Math.max(0, (parseInt(params.get("page"), 10) || 1) - 1);
    $("search").value = state.query;
    for (const facet of FACETS) {
      const select = document.querySelector(`select[data-facet="${facet}"]`);
      select.value = state.filters[facet] === undefined ? "" : String(state.filters[facet]);
    }
  }

  function go(delta) {
    state.page = Math.max(0, state.page + delta);
    render().catch(fail);
    window.scrollTo(0, 0);
  }

  function start() {
    if (!INDEX) {
      fail(new Error("data/index.js is missing: rebuild the site with quilt inspect"));
      return;
    }
    shardNames = new Set(INDEX.search_shards);
    document.title = INDEX.title;
    FACETS.forEach(fillSelect);
    let timer = null;
    $("search").addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => { state.query = $("search").value.trim(); refresh(false); }, 200);
    });
    $("reset").addEventListener("click", () => { history.replaceState(null, "", location.pathname); readHash(); refresh(false); });
    $("prev").addEventListener("click", () => go(-1));
    $("prev2").addEventListener("click", () => go(-1));
    $("next").addEventListener("click", () => go(1));
    $("next2").addEventListener("click", () => go(1));
    document.querySelector("#detail .close").addEventListener("click", () => $("detail").close());
    $("detail").addEventListener("click", (event) => { if (event.target === $("detail")) $("detail").close(); });
    readHash();
    refresh(true);
  }

  document.addEventListener("DOMContentLoaded", start);
})();

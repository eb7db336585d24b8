// Frontend of swmr_widgets.tree.DatasetTree: one model, a flat list of node
// dicts, rows built only for what is shown (children of expanded groups, or
// filter matches with their ancestors). Plain ES module, no dependencies.
//
// DOM hooks (stable, used by end-to-end tests):
//   .swmr-tree                 root element
//   .swmr-tree-filter          filter <input>, bound to the `filter` trait
//   .swmr-tree-count           "N datasets" / "M of N datasets"
//   .swmr-tree-row             one per shown node, with data-path and data-kind;
//                              class "selected" when selected, "unplottable"
//                              for datasets that cannot be plotted
//                              "broken" for damaged objects and "blocked" for
//                              datasets whose compression filter is missing
//                              (the reason is in the row's title)
//   .swmr-tree-shape           shape text of a dataset row, e.g. "(120,)"
// Lists of more than LONG_LIST rows get class "swmr-tree-long": their rows use
// `content-visibility: auto`, so rows scrolled out of view have an empty
// innerText; read texts with textContent.

const LONG_LIST = 1000;

const INDEXES = new WeakMap(); // nodes array -> index built from it

function buildIndex(nodes) {
  const byPath = new Map();
  for (const node of nodes) byPath.set(node.path, node);
  const children = new Map();
  const top = [];
  let datasets = 0;
  for (const node of nodes) {
    if (node.path === "/") continue; // the invisible root
    if (node.kind === "dataset") datasets += 1;
    const parent = node.parent;
    if (parent && parent !== "/" && byPath.has(parent)) {
      let list = children.get(parent);
      if (list === undefined) {
        list = [];
        children.set(parent, list);
      }
      list.push(node);
    } else {
      top.push(node);
    }
  }
  return { nodes, byPath, children, top, datasets, lower: null };
}

function applyShapes(index, shapes) {
  if (!shapes) return;
  for (const path of Object.keys(shapes)) {
    const node = index.byPath.get(path);
    if (node !== undefined && node.kind === "dataset") node.shape = shapes[path];
  }
}

function getIndex(model) {
  const nodes = model.get("nodes") || [];
  let index = INDEXES.get(nodes);
  if (index === undefined) {
    index = buildIndex(nodes);
    INDEXES.set(nodes, index);
    applyShapes(index, model.get("shapes"));
  }
  return index;
}

function formatShape(shape) {
  if (shape === null || shape === undefined) return "";
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

// Paths to show for a filter: every node whose path contains `query`, and its
// ancestors. Returns [set of paths, number of matching datasets].
function matches(index, query) {
  if (index.lower === null) index.lower = index.nodes.map((n) => n.path.toLowerCase());
  const keep = new Set();
  let datasets = 0;
  const { nodes, lower, byPath } = index;
  for (let i = 0; i < nodes.length; i += 1) {
    const node = nodes[i];
    if (node.path === "/" || !lower[i].includes(query)) continue;
    if (node.kind === "dataset") datasets += 1;
    let path = node.path;
    while (path && !keep.has(path)) {
      keep.add(path);
      const up = byPath.get(path);
      path = up === undefined ? "" : up.parent;
    }
  }
  return [keep, datasets];
}

function makeRow(node, depth, open, isSelected) {
  const row = document.createElement("div");
  let cls = "swmr-tree-row";
  row.setAttribute("data-path", node.path);
  row.setAttribute("data-kind", node.kind);
  row.style.paddingLeft = `${4 + depth * 14}px`;
  const caret = document.createElement("span");
  caret.className = "swmr-tree-caret";
  const name = document.createElement("span");
  name.className = "swmr-tree-name";
  name.textContent = node.name;
  row.append(caret, name);
  let shapeEl = null;
  if (node.kind === "group") {
    caret.textContent = open ? "\u25BE" : "\u25B8";
    if (open) cls += " expanded";
    row.setAttribute("aria-expanded", open ? "true" : "false");
    row.title = node.path;
  } else if (node.kind === "dataset") {
    shapeEl = document.createElement("span");
    shapeEl.className = "swmr-tree-shape";
    shapeEl.textContent = formatShape(node.shape);
    const dtype = document.createElement("span");
    dtype.className = "swmr-tree-dtype";
    dtype.textContent = node.dtype || "";
    row.append(shapeEl, dtype);
    if (node.plottable === false) {
      cls += " unplottable";
      row.title = node.reason ? `${node.reason}\n${node.path}` : node.path;
    } else {
      let title = node.reason ? `${node.reason}\n${node.path}` : node.path;
      if (node.filters) cls += " blocked";
      if (node.label) title += `\n${node.label}`;
      if (node.units) title += ` [${node.units}]`;
      row.title = title;
    }
    if (isSelected) cls += " selected";
    row.setAttribute("aria-selected", isSelected ? "true" : "false");
  } else {
    const what = document.createElement("span");
    what.className = "swmr-tree-dtype";
    what.textContent = node.kind;
    row.append(what);
    row.title = node.reason ? `${node.reason}\n${node.path}` : node.path;
  }
  if (node.broken) {
    cls += " broken";
    row.title = `${node.reason || "damaged"}\n${node.path}`;
  }
  row.className = cls;
  return [row, shapeEl];
}

function initialize({ model }) {
  // Keep shapes current in the shared node objects even while no view is shown.
  const onShapes = () => applyShapes(getIndex(model), model.get("shapes"));
  model.on("change:shapes", onShapes);
  return () => model.off("change:shapes", onShapes);
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "swmr-tree";
  const bar = document.createElement("div");
  bar.className = "swmr-tree-bar";
  const input = document.createElement("input");
  input.type = "search";
  input.className = "swmr-tree-filter";
  input.placeholder = "filter paths\u2026";
  input.spellcheck = false;
  input.autocomplete = "off";
  input.setAttribute("aria-label", "Filter dataset paths");
  input.value = model.get("filter") || "";
  const count = document.createElement("span");
  count.className = "swmr-tree-count";
  bar.append(input, count);
  const list = document.createElement("div");
  list.className = "swmr-tree-list";
  list.setAttribute("role", "tree");
  root.append(bar, list);
  el.appendChild(root);

  let rows = new Map(); // path -> row element, for the rows now shown
  let shapeEls = new Map(); // path -> .swmr-tree-shape element
  let selected = new Set(model.get("selected") || []);
  const filterCollapsed = new Set(); // groups collapsed by hand while filtering

  function draw() {
    const index = getIndex(model);
    const query = (model.get("filter") || "").trim().toLowerCase();
    const expanded = new Set(model.get("expanded") || []);
    const frag = document.createDocumentFragment();
    const newRows = new Map();
    const newShapes = new Map();
    let keep = null;
    let matched = 0;
    if (query) [keep, matched] = matches(index, query);

    const walk = (list, depth) => {
      for (const node of list) {
        if (keep !== null && !keep.has(node.path)) continue;
        const isGroup = node.kind === "group";
        const open =
          isGroup &&
          (keep === null ? expanded.has(node.path) : !filterCollapsed.has(node.path));
        const [row, shapeEl] = makeRow(node, depth, open, selected.has(node.path));
        frag.appendChild(row);
        newRows.set(node.path, row);
        if (shapeEl !== null) newShapes.set(node.path, shapeEl);
        if (open) {
          const kids = index.children.get(node.path);
          if (kids !== undefined) walk(kids, depth + 1);
        }
      }
    };
    walk(index.top, 0);

    if (newRows.size === 0) {
      const empty = document.createElement("div");
      empty.className = "swmr-tree-empty";
      empty.textContent = query
        ? "no path matches the filter"
        : index.nodes.length
          ? "no datasets"
          : "no datasets yet";
      frag.appendChild(empty);
    }
    const scroll = list.scrollTop;
    list.classList.toggle("swmr-tree-long", newRows.size > LONG_LIST);
    list.replaceChildren(frag);
    list.scrollTop = scroll;
    rows = newRows;
    shapeEls = newShapes;
    const noun = index.datasets === 1 ? "dataset" : "datasets";
    count.textContent = query
      ? `${matched} of ${index.datasets} ${noun}`
      : `${index.datasets} ${noun}`;
  }

  function onClick(event) {
    const row = event.target.closest(".swmr-tree-row");
    if (row === null || !list.contains(row)) return;
    const path = row.getAttribute("data-path");
    const node = getIndex(model).byPath.get(path);
    if (node === undefined) return;
    if (node.kind === "group") {
      toggleGroup(path);
    } else if (node.kind === "dataset") {
      selectDataset(path, event.ctrlKey || event.metaKey || event.shiftKey);
    }
  }

  function toggleGroup(path) {
    if ((model.get("filter") || "").trim()) {
      if (filterCollapsed.has(path)) filterCollapsed.delete(path);
      else filterCollapsed.add(path);
      draw();
      return;
    }
    const expanded = (model.get("expanded") || []).slice();
    const at = expanded.indexOf(path);
    if (at >= 0) expanded.splice(at, 1);
    else expanded.push(path);
    model.set("expanded", expanded);
    model.save_changes();
  }

  function selectDataset(path, toggle) {
    const current = model.get("selected") || [];
    let next;
    if (toggle && model.get("multiple")) {
      next = current.includes(path) ? current.filter((p) => p !== path) : [...current, path];
    } else {
      if (current.length === 1 && current[0] === path) return;
      next = [path];
    }
    model.set("selected", next);
    model.save_changes();
  }

  function onSelected() {
    const now = new Set(model.get("selected") || []);
    for (const path of selected) {
      if (!now.has(path)) {
        const row = rows.get(path);
        if (row !== undefined) {
          row.classList.remove("selected");
          row.setAttribute("aria-selected", "false");
        }
      }
    }
    for (const path of now) {
      const row = rows.get(path);
      if (row !== undefined && row.getAttribute("data-kind") === "dataset") {
        row.classList.add("selected");
        row.setAttribute("aria-selected", "true");
      }
    }
    selected = now;
  }

  function onShapes() {
    const shapes = model.get("shapes") || {};
    applyShapes(getIndex(model), shapes);
    for (const path of Object.keys(shapes)) {
      const el = shapeEls.get(path);
      if (el !== undefined) el.textContent = formatShape(shapes[path]);
    }
  }

  function onFilter() {
    const value = model.get("filter") || "";
    if (input.value !== value) input.value = value;
    filterCollapsed.clear();
    draw();
  }

  function onNodes() {
    filterCollapsed.clear();
    draw();
  }

  function onExpanded() {
    if (!(model.get("filter") || "").trim()) draw();
  }

  function onInput() {
    model.set("filter", input.value);
    model.save_changes();
  }

  list.addEventListener("click", onClick);
  input.addEventListener("input", onInput);
  model.on("change:nodes", onNodes);
  model.on("change:expanded", onExpanded);
  model.on("change:filter", onFilter);
  model.on("change:selected", onSelected);
  model.on("change:shapes", onShapes);
  draw();

  return () => {
    list.removeEventListener("click", onClick);
    input.removeEventListener("input", onInput);
    model.off("change:nodes", onNodes);
    model.off("change:expanded", onExpanded);
    model.off("change:filter", onFilter);
    model.off("change:selected", onSelected);
    model.off("change:shapes", onShapes);
    root.remove();
  };
}

export default { initialize, render };

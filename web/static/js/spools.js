// The maker's own spools (name + colour), remembered in this browser and sent as the job's
// `palette` option: the library snaps the model's colours to them (fabricate.color.palette).
import { colourName, parseHex } from "./colournames.js";

const $ = (id) => document.getElementById(id);
const STORE_KEY = "fabricate.spools";
const USE_KEY = "fabricate.spools.use";
const CONTROL = /[\u0000-\u001f\u007f]/g;

let spools = [];   // [{name, colour: "#RRGGBB"}]

const maxSpools = () => Number($("spools").dataset.maxSpools) || 16;

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
    spools = (Array.isArray(saved) ? saved : [])
      .filter((s) => s && parseHex(s.colour))
      .map((s) => ({ name: String(s.name || "").replace(CONTROL, "").slice(0, 40), colour: String(s.colour).toUpperCase() }))
      .slice(0, maxSpools());
  } catch (_) {
    spools = []; // a damaged entry is forgotten, not a broken page
  }
}

function save() {
  localStorage.setItem(STORE_KEY, JSON.stringify(spools));
  localStorage.setItem(USE_KEY, $("spools-use").checked ? "1" : "");
}

/** The spool's name for a filament colour the library chose from the palette (exact match), or null. */
export function spoolName(hex) {
  const wanted = String(hex || "").slice(0, 7).toUpperCase();
  const spool = spools.find((s) => s.colour === wanted);
  return spool ? spool.name || null : null;
}

/** Write the palette field: the spools' colours while "use my spools" is ticked. */
function applyPalette() {
  const palette = $("palette");
  const use = $("spools-use");
  use.disabled = spools.length === 0;
  if (use.disabled) use.checked = false;
  const mine = spools.map((s) => s.colour).join(",");
  if (use.checked) palette.value = mine;
  else if (palette.dataset.fromSpools && palette.value === palette.dataset.fromSpools) palette.value = "";
  palette.dataset.fromSpools = use.checked ? mine : "";
  palette.readOnly = use.checked;
}

function render() {
  const list = $("spool-list");
  list.replaceChildren(...spools.map((spool, index) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = spool.colour;
    const words = document.createElement("span");
    words.textContent = `${spool.name || "Spool " + (index + 1)}`;
    const detail = document.createElement("span");
    detail.className = "detail";
    detail.textContent = ` ${colourName(spool.colour)} ${spool.colour}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "small-button";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove the spool ${spool.name || spool.colour}`);
    remove.addEventListener("click", () => { spools.splice(index, 1); changed(); });
    item.append(swatch, words, detail, remove);
    return item;
  }));
  const full = spools.length >= maxSpools();
  $("spool-add").disabled = full;
  $("spools-hint").textContent = full ? `That is ${maxSpools()} spools, the most a model uses.`
    : "Add the filaments you have; the model's colours snap to them. They are remembered in this browser.";
}

function changed() {
  save();
  render();
  applyPalette();
}

function addSpool() {
  const colour = String($("spool-colour").value).toUpperCase();
  if (!parseHex(colour) || spools.length >= maxSpools()) return;
  const name = $("spool-name").value.replace(CONTROL, "").trim().slice(0, 40) || colourName(colour);
  spools.push({ name, colour });
  $("spool-name").value = "";
  if (spools.length === 1) $("spools-use").checked = true; // the first spool: the maker means to use them
  changed();
}

export function setupSpools() {
  load();
  $("spools-use").checked = !!localStorage.getItem(USE_KEY) && spools.length > 0;
  $("spool-add").addEventListener("click", addSpool);
  $("spool-name").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); addSpool(); } });
  $("spools-use").addEventListener("change", changed);
  render();
  applyPalette();
}

// The check in plain words. Every verdict here is one the library computed and wrote in the
// job's report (report.json); the page words it, it does not judge the model again.
import { colourName } from "./colournames.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

const fmt = (n, digits = 0) => Number(n).toLocaleString("en-GB", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const cm2 = (mm2) => `${fmt(mm2 / 100, mm2 < 1000 ? 1 : 0)} cm²`;
const SWATCH = /^#[0-9a-f]{6,8}$/i;
const PRICE_KEY = "fabricate.price-per-kg";
//: The largest price per kg the page takes (a typo guard, not a market view).
const MAX_PRICE = 10000;

export function formatHours(hours) {
  const minutes = Math.round(Number(hours) * 60);
  return minutes >= 60 ? `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min` : `${minutes} min`;
}

function savedPrice() {
  const price = Number(localStorage.getItem(PRICE_KEY));
  return Number.isFinite(price) && price > 0 && price <= MAX_PRICE ? price : null;
}

/** Grams, metres, hours (report.print_estimate), cost at the maker's price per kg, and warnings. */
function estimateSection(estimate) {
  const figures = el("p", { id: "estimate-figures", class: "estimate-figures" },
    el("strong", {}, `about ${fmt(estimate.grams, 0)} g`), ` of filament (${fmt(estimate.metres, 1)} m) · `,
    el("strong", {}, `about ${formatHours(estimate.hours)}`), ` to print · ${fmt(estimate.layers)} layers`,
    estimate.tool_changes ? ` · ${fmt(estimate.tool_changes)} filament changes` : null);
  const method = el("p", { class: "detail", id: "estimate-method" }, `Figures: ${estimate.method}.`);
  const input = el("input", { type: "number", id: "price-per-kg", min: "0", max: String(MAX_PRICE), step: "any",
    inputmode: "decimal", placeholder: "e.g. 25" });
  const price = savedPrice();
  if (price != null) input.value = String(price);
  const cost = el("span", { id: "estimate-cost", class: "estimate-cost" });
  const showCost = () => {
    const value = Number(input.value);
    const ok = input.value.trim() !== "" && Number.isFinite(value) && value >= 0 && value <= MAX_PRICE;
    cost.textContent = ok ? ` Filament cost about ${fmt((Number(estimate.grams) / 1000) * value, 2)}.` : "";
    if (ok) localStorage.setItem(PRICE_KEY, String(value));
  };
  input.addEventListener("input", showCost);
  showCost();
  const priceLine = el("p", { class: "price-line" },
    el("label", { for: "price-per-kg" }, "Price per kg of filament "), input, cost);
  // The library's own warnings (fabricate.printing.estimate: very large or very long prints).
  const warnings = estimate.warnings || [];
  const warningList = warnings.length
    ? el("ul", { class: "checks", id: "estimate-warnings" }, ...warnings.map((w) => el("li", { class: "warn" }, el("span", {}, w))))
    : null;
  return [el("h3", {}, "Filament and time"), figures, warningList, priceLine, method];
}

/** Where the pose comparison stands: the current pose is already the least-support one, or which one is. */
function poseWords(an, fit) {
  const best = an.recommended_pose;
  if (!best) return "";
  const current = fit.orientation || "photo";
  const alreadyBest = current === "least-support" || (current === "photo" && best === "photo");
  if (alreadyBest) return " This pose already needs the least support of those that keep the front visible.";
  return ` Orientation "least-support" would stand it as pose "${best}", which needs less support with the front visible.`;
}

/** Render `report` (the job's result) into `container`; `printerName(id)` names a printer. */
export function renderReport(container, report, reportLink, printerName, names = {}) {
  const spoolName = names.spoolName || (() => null);
  const v = report.validation || {};
  const fit = report.fit || {};
  const an = report.analysis || {};
  const ps = report.print_settings || {};
  const items = [];
  // ok: true (good, ✓), false (a problem, ✗), "warn" (worth a look), null (a plain fact)
  const add = (ok, text, detail) => {
    const cls = ok === true ? "ok" : ok === false ? "bad" : ok === "warn" ? "warn" : "info";
    items.push(el("li", { class: cls }, el("span", {}, text, detail ? el("span", { class: "detail" }, ` ${detail}`) : null)));
  };

  // validate_mesh's verdict: closed, 2-manifold, outward-oriented, no self-intersections, and manifold3d agrees.
  if (v.ok) add(true, "Watertight ✓", `(closed surface, no holes or crossing faces; manifold3d: ${v.manifold3d_status})`);
  else add(false, "Not printable ✗", (v.problems || []).join("; "));

  // The library finishes a job only once the placed model is inside the printer's usable space,
  // so a report with a placement is a model that fits.
  if (fit.printer) {
    const usable = fit.usable_mm ? `(usable space ${fit.usable_mm.map((n) => fmt(n)).join(" × ")} mm)` : null;
    add(true, `Fits the ${printerName(fit.printer)} ✓`, usable);
  }
  const size = fit.size_mm || v.size_mm;
  if (size) add(null, `Size ${size.map((n) => fmt(n, 1)).join(" × ")} mm`, "(width × depth × height)");
  if (v.volume_mm3 != null) add(null, `Volume ${fmt(v.volume_mm3 / 1000, 1)} cm³`, "(solid; the print uses less with infill)");

  const floating = an.floating_parts || [];
  const components = Number(v.components || 1);
  if (components === 1 && !floating.length) add(true, "One solid piece ✓");
  else add(floating.length ? false : "warn", `${components} separate pieces`,
    floating.length ? `(${floating.length} would float in the air)` : null);

  // Overhangs measured by analyse_print at the job's support angle.
  const threshold = an.support_threshold_deg;
  // Its keys are the angles written with Python's %g, which String() matches for these values.
  const overhang = an.overhang_area_mm2 && threshold != null ? an.overhang_area_mm2[String(Number(threshold))] : null;
  if (overhang != null) {
    const surface = Number(an.surface_area_mm2 || 0);
    const share = surface > 0 ? ` (${fmt((overhang / surface) * 100, 0)} % of ${cm2(surface)})` : "";
    add(null, `Overhangs flatter than ${fmt(threshold)}°: ${cm2(overhang)}${share}`,
      `Supports: ${ps.supports || "off"}.${poseWords(an, fit)}`);
  }

  // Thin walls: the regions analyse_print found thinner than two nozzle widths.
  const thin = an.thin_walls || [];
  if (!thin.length) add(true, "No thin walls ✓", an.min_wall_mm ? `(nothing thinner than ${fmt(an.min_wall_mm, 2)} mm)` : null);
  else {
    const thinnest = Math.min(...thin.map((t) => Number(t.thinnest_mm)));
    add("warn", `${thin.length} thin wall area${thin.length > 1 ? "s" : ""}, thinnest ${fmt(thinnest, 2)} mm`,
      `(${fmt(Number(an.thin_wall_share || 0) * 100, 1)} % of the surface) They may print weakly; a larger height helps.`);
  }

  for (const w of v.warnings || []) add("warn", String(w));

  const parts = [el("h3", {}, "Check"), el("ul", { class: "checks" }, ...items)];

  // How well each photo's outline matches the solid (several photos only).
  const views = report.views || [];
  if (views.length > 1) {
    parts.push(el("h3", {}, "Photos"), el("ul", { class: "checks", id: "view-fits" }, ...views.map((view) =>
      el("li", { class: "info" }, el("span", {}, `${view.name}: seen from ${fmt(view.azimuth_deg)}°`,
        el("span", { class: "detail" }, ` outline match ${fmt(Number(view.iou) * 100, 0)} %`))))));
  }

  const filaments = report.filaments || [];
  if (filaments.length) {
    parts.push(el("h3", {}, `Colours (${filaments.length} filament${filaments.length > 1 ? "s" : ""})`),
      el("ul", { class: "swatches", id: "filaments" }, ...filaments.map((f) =>
        el("li", { title: `${f.colour}`, "data-colour": String(f.colour).toUpperCase() },
          el("span", { class: "swatch", style: `background:${SWATCH.test(f.colour) ? f.colour.slice(0, 7) : "#ccc"}` }),
          el("span", {}, `Filament ${f.filament}: ${spoolName(f.colour) || colourName(f.colour) || "colour"}`),
          el("span", { class: "detail" }, ` ${spoolName(f.colour) ? `${colourName(f.colour)}, ` : ""}${String(f.colour).toUpperCase()} · ${fmt((f.area_share || 0) * 100, 0)} %`)))));
  }

  // With delighting the job rendered its surface twice: in the photo's colours and with the lighting removed.
  if ((report.options || {}).delight === "auto") {
    const figure = (name, caption) => el("figure", { class: "colour-compare-item", style: "display:inline-block;margin:0 1em 0 0" },
      el("img", { src: reportLink.replace(/report\.json$/, name), alt: caption, width: "200", height: "200" }),
      el("figcaption", { class: "detail" }, caption));
    parts.push(el("h3", {}, "Lighting removed"),
      el("div", { id: "colour-compare" }, figure("preview-photo.png", "Photo's colours (with its light and shadows)"),
        figure("preview-delit.png", "Object's own colours (delit)")));
  }

  if (report.print_estimate) parts.push(...estimateSection(report.print_estimate).filter(Boolean));

  const settings = [];
  if (ps.preset) settings.push(`${ps.preset} preset`);
  if (ps.layer_height) settings.push(`layer ${fmt(ps.layer_height, 2)} mm`);
  if (ps.wall_loops) settings.push(`${ps.wall_loops} walls`);
  if (ps.infill_density != null) settings.push(`infill ${fmt(ps.infill_density, 0)} %${ps.infill_pattern ? ` ${ps.infill_pattern}` : ""}`);
  if (ps.supports) settings.push(`supports ${ps.supports}`);
  if (ps.brim_width_mm != null) settings.push(`brim ${fmt(ps.brim_width_mm, 1)} mm`);
  if (fit.orientation) settings.push(`orientation: ${fit.orientation}`);
  if (settings.length) parts.push(el("h3", {}, "Print settings"), el("p", { class: "settings" }, settings.join(" · ")));

  parts.push(el("p", { class: "detail" }, el("a", { href: reportLink, target: "_blank", rel: "noopener" }, "Full report (JSON)")));
  container.replaceChildren(...parts);
}

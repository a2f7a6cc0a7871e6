// The 3D preview: the built 3MF inside the printer's build volume (three.js, vendored).
import * as THREE from "three";
import { ThreeMFLoader } from "three/addons/loaders/3MFLoader.js";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

const $ = (id) => document.getElementById(id);

const PREVIEW_BACKGROUND = 0xe9ecef;
// Readiness hook for tests and curious users: frames rendered with the model in the scene.
window.__preview = { frames: 0, error: null, meshes: 0, background: "#e9ecef" };
// The camera as last rendered (three's Y-up world, mm), for tests: position, target, and the view button used.
window.__camera = { position: null, target: null, view: null };

//: Directions the camera looks from, in three's world (the printer's front, -Y, is +Z here; up is +Y).
// Each is a little above its plane, because the camera never goes below the bed (see MAX_POLAR).
const VIEWS = {
  front: [0, 0.08, 1],
  side: [1, 0.08, 0],          // from the printer's right
  top: [0, 1, 0.0001],         // straight down, the front at the bottom of the picture
  iso: [1, 0.82, 1],           // the classic isometric corner, front right
};
const DEFAULT_VIEW = [0.45, 0.5, 1]; // the first look at a new model: from the front, a little right and above
//: The camera stays above the horizontal through its target (which is on or above the bed): no orbiting under
// the bed into a grey wall.
const MAX_POLAR = Math.PI * 0.49;
//: One arrow-key press turns the view by this much; +/- zoom by this factor.
const KEY_TURN = Math.PI / 12;
const KEY_ZOOM = 1.15;

const viewer = {
  renderer: null, scene: null, camera: null, controls: null,
  frame: null,        // printer frame: 3MF coordinates (Z up), rotated into three's Y-up world
  model: null, volume: null,
  modelBox: null, volumeBox: null,
  pending: false, hasModel: false,
  direction: DEFAULT_VIEW, wholePrinter: false,
};

function initViewer() {
  if (viewer.renderer) return true;
  const container = $("preview");
  let renderer;
  try {
    renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  } catch (err) {
    window.__preview.error = `WebGL is not available in this browser: ${err.message || err}`;
    return false;
  }
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  renderer.outputColorSpace = THREE.SRGBColorSpace;
  container.replaceChildren(renderer.domElement);

  const scene = new THREE.Scene();
  scene.background = new THREE.Color(PREVIEW_BACKGROUND);
  const camera = new THREE.PerspectiveCamera(40, 1, 1, 20000);

  scene.add(new THREE.HemisphereLight(0xffffff, 0x8a8f99, 1.6));
  // Lights ride with the camera so the side you look at is always lit.
  const key = new THREE.DirectionalLight(0xffffff, 1.8);
  key.position.set(1, 1.6, 1.2);
  camera.add(key);
  const fill = new THREE.DirectionalLight(0xffffff, 0.6);
  fill.position.set(-1.2, 0.4, -0.8);
  camera.add(fill);
  for (const light of [key, fill]) {
    light.target.position.set(0, 0, -1); // shine along the view direction
    camera.add(light.target);
  }
  scene.add(camera);

  const frame = new THREE.Group();
  frame.rotation.x = -Math.PI / 2; // 3MF is Z-up, three.js is Y-up
  scene.add(frame);

  const controls = new OrbitControls(camera, renderer.domElement);
  controls.enableDamping = true;
  controls.dampingFactor = 0.12;
  controls.maxPolarAngle = MAX_POLAR;
  controls.addEventListener("change", requestRender);
  setupKeyboard(renderer.domElement, controls);

  Object.assign(viewer, { renderer, scene, camera, controls, frame });
  new ResizeObserver(resizeViewer).observe(container);
  resizeViewer();
  return true;
}

function resizeViewer() {
  if (!viewer.renderer) return;
  const container = $("preview");
  const w = Math.max(1, container.clientWidth);
  const h = Math.max(1, container.clientHeight);
  viewer.renderer.setSize(w, h, true);
  viewer.camera.aspect = w / h;
  viewer.camera.updateProjectionMatrix();
  requestRender();
}

function requestRender() {
  if (viewer.pending || !viewer.renderer) return;
  viewer.pending = true;
  requestAnimationFrame(renderFrame);
}

function renderFrame() {
  viewer.pending = false;
  const moving = viewer.controls.update();
  viewer.renderer.render(viewer.scene, viewer.camera);
  window.__camera.position = viewer.camera.position.toArray();
  window.__camera.target = viewer.controls.target.toArray();
  if (viewer.hasModel) window.__preview.frames += 1;
  if (moving) requestRender();
}

function buildVolume(printer) {
  const group = new THREE.Group();
  const [sx, sy, sz] = printer.build_volume_mm.map(Number);
  const [x0, y0] = (printer.bed_origin_mm || [0, 0]).map(Number);
  const lineMat = new THREE.LineBasicMaterial({ color: 0x5b6573 });
  if (printer.bed_shape === "circular") {
    const pts = [];
    const cx = x0 + sx / 2, cy = y0 + sy / 2;
    for (let i = 0; i < 96; i++) {
      const a0 = (i / 96) * Math.PI * 2, a1 = ((i + 1) / 96) * Math.PI * 2;
      for (const z of [0, sz]) {
        pts.push(new THREE.Vector3(cx + sx / 2 * Math.cos(a0), cy + sy / 2 * Math.sin(a0), z));
        pts.push(new THREE.Vector3(cx + sx / 2 * Math.cos(a1), cy + sy / 2 * Math.sin(a1), z));
      }
    }
    for (let i = 0; i < 4; i++) {
      const a = (i / 4) * Math.PI * 2;
      pts.push(new THREE.Vector3(cx + sx / 2 * Math.cos(a), cy + sy / 2 * Math.sin(a), 0));
      pts.push(new THREE.Vector3(cx + sx / 2 * Math.cos(a), cy + sy / 2 * Math.sin(a), sz));
    }
    group.add(new THREE.LineSegments(new THREE.BufferGeometry().setFromPoints(pts), lineMat));
    const disc = new THREE.Mesh(new THREE.CircleGeometry(sx / 2, 96),
      new THREE.MeshBasicMaterial({ color: 0xd3d8de, side: THREE.DoubleSide }));
    disc.position.set(cx, cy, -0.2);
    group.add(disc);
  } else {
    const box = new THREE.BoxGeometry(sx, sy, sz);
    const edges = new THREE.LineSegments(new THREE.EdgesGeometry(box), lineMat);
    edges.position.set(x0 + sx / 2, y0 + sy / 2, sz / 2);
    group.add(edges);
    const bed = new THREE.Mesh(new THREE.PlaneGeometry(sx, sy),
      new THREE.MeshBasicMaterial({ color: 0xd3d8de, side: THREE.DoubleSide }));
    bed.position.set(x0 + sx / 2, y0 + sy / 2, -0.2);
    group.add(bed);
    // 10 mm grid on the bed
    const grid = [];
    for (let x = 10; x < sx; x += 10) grid.push(new THREE.Vector3(x0 + x, y0, 0), new THREE.Vector3(x0 + x, y0 + sy, 0));
    for (let y = 10; y < sy; y += 10) grid.push(new THREE.Vector3(x0, y0 + y, 0), new THREE.Vector3(x0 + sx, y0 + y, 0));
    const gridLines = new THREE.LineSegments(new THREE.BufferGeometry().setFromPoints(grid),
      new THREE.LineBasicMaterial({ color: 0xbfc5cc }));
    gridLines.position.z = -0.1;
    group.add(gridLines);
  }
  // Mark the front edge of the bed (y = y0) with a short bar so the orientation is readable.
  const front = new THREE.Mesh(new THREE.BoxGeometry(Math.min(40, sx / 4), 2, 0.6),
    new THREE.MeshBasicMaterial({ color: 0x2f6fde }));
  front.position.set(x0 + sx / 2, y0 - 3, 0);
  group.add(front);
  const volumeBox = new THREE.Box3(new THREE.Vector3(x0, y0, 0), new THREE.Vector3(x0 + sx, y0 + sy, sz));
  return { group, volumeBox };
}

function disposeObject(obj) {
  obj.traverse((o) => {
    if (o.geometry) o.geometry.dispose();
    if (o.material) (Array.isArray(o.material) ? o.material : [o.material]).forEach((m) => m.dispose());
  });
}

/** Arrow keys orbit, + and - zoom, while the preview has the keyboard focus (Tab to it). */
function setupKeyboard(canvas, controls) {
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", "3D preview: arrow keys turn it, + and - zoom");
  canvas.addEventListener("keydown", (e) => {
    const turns = { ArrowLeft: [KEY_TURN, 0], ArrowRight: [-KEY_TURN, 0], ArrowUp: [0, KEY_TURN], ArrowDown: [0, -KEY_TURN] };
    if (turns[e.key]) {
      controls.rotateLeft(turns[e.key][0]);
      controls.rotateUp(turns[e.key][1]);
    } else if (e.key === "+" || e.key === "=") controls.dollyIn(KEY_ZOOM);
    else if (e.key === "-" || e.key === "_") controls.dollyOut(KEY_ZOOM);
    else return;
    e.preventDefault(); // the page does not scroll while the model turns
    window.__camera.view = null;
    requestRender();
  });
}

/** Point the camera at a box given in printer coordinates (Z up), looking along `direction` (three's world). */
function frameBox(boxPrinter, target, direction = viewer.direction) {
  const box = boxPrinter.clone().applyMatrix4(viewer.frame.matrixWorld);
  const sphere = box.getBoundingSphere(new THREE.Sphere());
  const centre = target ? target.clone().applyMatrix4(viewer.frame.matrixWorld) : sphere.center;
  const fov = THREE.MathUtils.degToRad(viewer.camera.fov);
  const fitV = sphere.radius / Math.sin(fov / 2);
  const fitH = sphere.radius / Math.sin(Math.atan(Math.tan(fov / 2) * viewer.camera.aspect));
  const dist = Math.max(fitV, fitH) * 1.05;
  const dir = new THREE.Vector3(...direction).normalize();
  viewer.camera.position.copy(sphere.center).addScaledVector(dir, dist);
  viewer.camera.near = Math.max(0.1, dist / 100);
  viewer.camera.far = dist * 20;
  viewer.camera.updateProjectionMatrix();
  viewer.controls.target.copy(centre);
  viewer.controls.minDistance = sphere.radius * 0.05;
  viewer.controls.maxDistance = dist * 6;
  viewer.controls.update();
  requestRender();
}

/**
 * Show the model at `url` (a 3MF) inside `printer`'s build volume. `isCurrent()` says whether
 * the page still wants it when it arrives (a newer job may have taken over); `onShown()`, if given, is
 * called once the model is on screen.
 */
export function loadPreview(url, printer, isCurrent, onShown = null) {
  window.__preview.frames = 0;
  window.__preview.error = null;
  window.__preview.meshes = 0;
  if (!initViewer()) {
    $("preview-placeholder").textContent = window.__preview.error;
    return;
  }
  viewer.hasModel = false;
  viewer.direction = DEFAULT_VIEW;
  window.__camera.view = null;
  if (viewer.model) { viewer.frame.remove(viewer.model); disposeObject(viewer.model); viewer.model = null; }
  if (viewer.volume) { viewer.frame.remove(viewer.volume); disposeObject(viewer.volume); viewer.volume = null; }

  if (printer && printer.build_volume_mm) {
    const { group, volumeBox } = buildVolume(printer);
    viewer.volume = group;
    viewer.volumeBox = volumeBox;
    viewer.frame.add(group);
  } else {
    viewer.volumeBox = null;
  }
  $("preview-placeholder").textContent = "Loading the 3D preview…";
  $("preview-placeholder").hidden = false;

  const loader = new ThreeMFLoader();
  loader.load(url, (object) => {
    if (!isCurrent()) return;
    // The loader returns the model in 3MF coordinates (mm, Z up); the frame group turns it upright.
    viewer.model = object;
    viewer.frame.add(object);
    viewer.frame.updateMatrixWorld(true);
    let meshes = 0;
    object.traverse((o) => {
      if (o.isMesh) {
        meshes += 1;
        const mats = Array.isArray(o.material) ? o.material : [o.material];
        mats.forEach((m) => { m.side = THREE.FrontSide; });
      }
    });
    window.__preview.meshes = meshes;
    viewer.modelBox = new THREE.Box3().setFromObject(object);
    // setFromObject gives world coordinates; convert back to printer coordinates for framing.
    const inv = viewer.frame.matrixWorld.clone().invert();
    viewer.modelBox.applyMatrix4(inv);
    if (meshes === 0 || viewer.modelBox.isEmpty()) {
      window.__preview.error = "The 3MF file has no mesh to show.";
      $("preview-placeholder").textContent = window.__preview.error;
      return;
    }
    viewer.hasModel = true;
    $("preview-placeholder").hidden = true;
    $("preview-toolbar").hidden = false;
    frameModelView(!!viewer.volumeBox);
    if (onShown) onShown();
  }, undefined, (err) => {
    const message = err && err.message ? err.message : String(err);
    window.__preview.error = `The 3D preview could not be loaded: ${message}`;
    $("preview-placeholder").textContent = window.__preview.error;
    $("preview-placeholder").hidden = false;
  });
}

/** Frame the model alone, or the whole printer with the model in it (from the current view's direction). */
export function frameModelView(wholePrinter) {
  if (!viewer.modelBox) return;
  viewer.wholePrinter = wholePrinter;
  const centre = viewer.modelBox.getCenter(new THREE.Vector3());
  if (wholePrinter && viewer.volumeBox) frameBox(viewer.volumeBox.clone().union(viewer.modelBox), centre);
  else frameBox(viewer.modelBox, centre);
}


/** Look from the front, the side, the top or the isometric corner (`name` is a key of VIEWS). */
export function showView(name) {
  if (!VIEWS[name] || !viewer.modelBox) return;
  viewer.direction = VIEWS[name];
  frameModelView(viewer.wholePrinter && !!viewer.volumeBox);
  window.__camera.view = name;
}

/** Take the model out of the preview (its photos changed: the shown model is no longer theirs). */
export function clearPreview(words = "The 3D preview appears here when the model is built.") {
  window.__preview.frames = 0;
  window.__preview.meshes = 0;
  viewer.hasModel = false;
  viewer.modelBox = null;
  if (viewer.model) { viewer.frame.remove(viewer.model); disposeObject(viewer.model); viewer.model = null; }
  if (viewer.volume) { viewer.frame.remove(viewer.volume); disposeObject(viewer.volume); viewer.volume = null; }
  $("preview-toolbar").hidden = true;
  $("preview-placeholder").textContent = words;
  $("preview-placeholder").hidden = false;
  requestRender();
}

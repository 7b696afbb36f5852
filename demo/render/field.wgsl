// The live demo's field view: one full-screen triangle; each fragment inside the field rectangle
// reads its cell of the field buffer and looks its colour up in a 256-entry LUT (the project's
// diverging map, built on the CPU from src/render/colormap.ts).
// mode 0: the solver's state, int32 fixed point q = (θ0 − θ)·2²⁸, 0x7fffffff outside the particle
//         (src/solver/quanta.ts); mode 1: a float32 ΔI/I0 camera image, NaN outside.
// Pan / zoom: `inv` (the inverse of demo/render/view.ts's mat3) takes each fragment's layout px
// back to where it lies in the unzoomed layout; the side panel right of fieldRight is not zoomed.
// Bindings: 0 uniforms (View), 1 the field (read-only storage, u32 words), 2 the LUT.
struct View {
  origin: vec2f,   // canvas px of the field's top-left corner
  cellPx: f32,     // px per field cell
  mode: u32,
  dims: vec2u,     // field width, height in cells
  theta0: f32,
  vmin: f32,
  vmax: f32,
  fieldRight: f32, // px: right edge of the particle's square (the rest is the side panel)
  pxScale: f32,    // layout px per canvas px (2 when the canvas is drawn at half resolution)
  _pad: f32,
  inv: mat3x3f,    // screen layout px → unzoomed layout px (view transform's inverse)
};
@group(0) @binding(0) var<uniform> view: View;
@group(0) @binding(1) var<storage, read> field: array<u32>;
@group(0) @binding(2) var<storage, read> lut: array<u32, 256>;

@vertex
fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4f {
  let p = array<vec2f, 3>(vec2f(-1.0, -1.0), vec2f(3.0, -1.0), vec2f(-1.0, 3.0));
  return vec4f(p[i], 0.0, 1.0);
}

fn unpack(c: u32) -> vec4f {
  return vec4f(f32(c & 255u), f32((c >> 8u) & 255u), f32((c >> 16u) & 255u), 255.0) / 255.0;
}

const PAGE = vec4f(1.0, 1.0, 1.0, 1.0);
const NAN_GREY = vec4f(224.0 / 255.0, 224.0 / 255.0, 224.0 / 255.0, 1.0);

@fragment
fn fs(@builtin(position) pos: vec4f) -> @location(0) vec4f {
  let p = pos.xy * view.pxScale;
  if (p.x >= view.fieldRight) { return PAGE; }
  let q = (view.inv * vec3f(p, 1.0)).xy;
  let c = (q - view.origin) / view.cellPx;
  if (c.x < 0.0 || c.y < 0.0 || c.x >= f32(view.dims.x) || c.y >= f32(view.dims.y)) { return NAN_GREY; }
  let idx = u32(c.y) * view.dims.x + u32(c.x);
  let w = field[idx];
  var v: f32;
  if (view.mode == 0u) {
    let q = bitcast<i32>(w);
    if (q == 0x7fffffff) { return NAN_GREY; }
    v = view.theta0 - f32(q) * (1.0 / 268435456.0);
  } else {
    if ((w & 0x7f800000u) == 0x7f800000u) { return NAN_GREY; } // NaN (or ±Inf): outside
    v = bitcast<f32>(w);
  }
  let t = clamp((v - view.vmin) / (view.vmax - view.vmin), 0.0, 1.0);
  return unpack(lut[u32(round(t * 255.0))]);
}

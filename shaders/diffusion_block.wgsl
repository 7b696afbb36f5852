// Several whole steps per dispatch (temporal blocking): up to K steps of diffusion_step.wgsl in
// workgroup memory, bit for bit the same integers as K single steps.
//
// Why: a single step reads and writes each cell once from memory (8 B per cell-update); a GPU whose
// step is bandwidth-bound gains up to K-fold from doing K steps per load, and the host records one
// dispatch per K steps.
// How: a workgroup loads its 16×16 tile with a K-cell halo ((16 + 2K)² cells) of q into workgroup
// memory, plus which of those cells are wall cells (the walls of its own and its 8 neighbouring
// tiles: K ≤ 16). Sub-step s (0 ≤ s < n ≤ K) evaluates Φ̃ on the cells at least s cells inside the
// region, then updates those at least s + 1 inside with the same stencil, truncations and wall quanta
// as diffusion_step.wgsl, in place (the stencil reads only Φ̃). After n sub-steps the tile's own
// cells are exact and are written out; the halo was recomputed redundantly (for K = 4, 1.38× the
// Φ̃ evaluations and 1.43× the stencil updates of 4 single steps: a win where memory bounds the
// step, a loss where compute does).
// A tile's own wall cell that trips the θ-range guard or a cut-off in sub-step s raises that
// sub-step's stop reason in the block's slot set, one atomicMax of 2 (guard) or 1 (cut-off): the
// maximum is the CPU reference's order, and integer atomics are order-independent (as
// diffusion_step.wgsl).
//
// The stop decision: no workgroup can know, inside a dispatch, whether sub-step s ended the run
// (that needs every tile's θs of sub-step s). So blocks run speculatively and the next dispatch
// judges them. Block b reads block b − 1's slot set, complete because a dispatch boundary lies
// between them, and takes the first sub-step s whose slot says stop (the range guard first, then
// the cut-off, as the CPU reference):
//   none: block b − 1 stood; run block b's own n sub-steps (mode STEP);
//   s = n_prev − 1 (its last): block b − 1 stood, the run stopped there; copy through (COPY);
//   s < n_prev − 1: block b − 1 overshot. Its input is intact, because the state rotates through
//   THREE buffers (block b reads x[b], writes x[b+1], and block b − 1's input x[b−1] is written again
//   only by block b + 1): redo its first s + 1 sub-steps from x[b−1] into x[b+1] (REDO), so the
//   step that crossed is kept, exactly like the CPU reference, and the run stops there.
// A stopped lane's later blocks copy through (the buffers stay in rotation, the state unchanged).
// The lane's first workgroup of block b counts the steps block b − 1 stood for (n_prev, or s + 1),
// records block b's own sub-step count and its stop in block b's set, and clears the set of block
// b + 1 (block b − 2's, which nobody reads in block b). A submit of m steps is ⌈m/K⌉ blocks, one
// resolving block with n = 0 (it judges the last block: a copy, or its redo) and `finalize` (one
// invocation per lane: the stop flag for the host's readback; the sets as a new submit expects them:
// sets 0 and 1 empty, set 2 = "the block before": no sub-steps, carrying the stop).
// Bindings (group 0): 0 StepUniforms per lane, 1 Φ̃ tables, 2 active lanes (kirchhoff.wgsl), 3 the
// block's input, 4 its output, 5 the previous block's input, 6 run states ([0] stop flag, [1] steps
// taken, as diffusion_step.wgsl) and, from word SLOTS_AT, the lanes' slot sets (one binding fewer: as
// many storage buffers as diffusion_step.wgsl), 7 wall cells, 8 step data (diffusion_step.wgsl's
// layout), 9 the block (its phase b mod 3 and its sub-step count; a dynamic offset).

@group(0) @binding(3) var<storage, read> qIn: array<i32>;
@group(0) @binding(4) var<storage, read_write> qOut: array<i32>;
@group(0) @binding(5) var<storage, read> qPrevIn: array<i32>;
@group(0) @binding(6) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read> walls: array<Wall>;
@group(0) @binding(8) var<storage, read> stepData: array<u32>;

struct Block {
  phase: u32, // b mod 3: which slot set is this block's
  steps: u32, // its sub-steps n (0 for the resolving block)
}
@group(0) @binding(9) var<uniform> block: Block;

// sub-steps per block at most: the halo width
override K: u32 = 4;
override WG: u32 = 16;
override TILES_X: u32 = 1;
override TILES_Y: u32 = 1;
override TILE_COUNT: u32 = 1;
override SLOTS_X: u32 = 1;
override TILE_LIST_AT: u32 = 0;
override TILE_START_AT: u32 = 0;
override TILE_WALLS_AT: u32 = 0;
// where the slot sets start in `state`: after every lane's run state
override SLOTS_AT: u32 = 0;

const MODE_STEP: u32 = 0u;
const MODE_COPY: u32 = 1u;
const MODE_REDO: u32 = 2u;

// the region: the tile and its K-cell halo, (WG + 2K)² cells row-major
var<workgroup> qS: array<i32, (WG + 2u * K) * (WG + 2u * K)>;
var<workgroup> phiS: array<f32, (WG + 2u * K) * (WG + 2u * K)>;
// the wall number k of a region cell (into the lane's wall list), or −1
var<workgroup> wallS: array<i32, (WG + 2u * K) * (WG + 2u * K)>;
// from invocation 0: x mode, y stop reason, z sub-steps to run
var<workgroup> decision: vec3u;

/** Words of a lane's slot set: [0] stop carried, [1] sub-steps the block ran, then per sub-step its stop reason (0 none). */
fn setWords() -> u32 { return 2u + K; }

fn setWord(l0: u32, which: u32, w: u32) -> u32 {
  return SLOTS_AT + l0 + which * setWords() + w;
}

fn clearSet(l0: u32, which: u32, carry: u32) {
  atomicStore(&state[setWord(l0, which, 0u)], carry);
  atomicStore(&state[setWord(l0, which, 1u)], 0u);
  for (var s = 0u; s < K; s++) { atomicStore(&state[setWord(l0, which, 2u + s)], 0u); }
}

/** The stop reason after sub-step s of the block whose set is `which`: range guard (2), cut-off (1), or 0. */
fn subStepStop(l0: u32, which: u32, s: u32) -> u32 {
  return atomicLoad(&state[setWord(l0, which, 2u + s)]);
}

@compute @workgroup_size(WG, WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let slotIndex = wg.y * SLOTS_X + wg.x;
  if (slotIndex >= TILE_COUNT) { return; } // the dispatch grid's last row may overhang the list
  let lane = selectLane(wg.z);
  let base = lane * U.nx * U.ny;
  let l0 = lane * 3u * setWords();
  let cur = block.phase;
  let tileId = stepData[TILE_LIST_AT + slotIndex];
  let tx = tileId % TILES_X;
  let ty = tileId / TILES_X;
  if (li == 0u) {
    // judge the block before (see the header)
    let prev = (cur + 2u) % 3u;
    let carried = atomicLoad(&state[setWord(l0, prev, 0u)]);
    let nPrev = atomicLoad(&state[setWord(l0, prev, 1u)]);
    var mode = MODE_STEP;
    var stop = carried;
    var run = block.steps;
    var counted = 0u;
    if (carried != 0u) {
      mode = MODE_COPY;
      run = 0u;
    } else {
      counted = nPrev;
      for (var s = 0u; s < nPrev; s++) {
        let reason = subStepStop(l0, prev, s);
        if (reason != 0u) {
          stop = reason;
          counted = s + 1u;
          mode = select(MODE_REDO, MODE_COPY, s + 1u == nPrev);
          run = select(s + 1u, 0u, s + 1u == nPrev);
          break;
        }
      }
    }
    decision = vec3u(mode, stop, run);
    if (slotIndex == 0u) {
      clearSet(l0, (cur + 1u) % 3u, 0u);
      atomicStore(&state[setWord(l0, cur, 0u)], stop);
      atomicStore(&state[setWord(l0, cur, 1u)], select(0u, run, mode == MODE_STEP));
      atomicAdd(&state[lane * STATE_WORDS + 1u], counted);
    }
  }
  let dec = workgroupUniformLoad(&decision);
  let mode = dec.x;
  let run = dec.z;
  let gx = tx * WG + lid.x;
  let gy = ty * WG + lid.y;
  let inGrid = gx < U.nx && gy < U.ny;
  let i = base + gy * U.nx + gx;
  if (run == 0u) {
    // a copy: the block's input is its output (a stopped lane, or the resolving block after a block that stood)
    if (inGrid) {
      let c = qIn[i];
      if (c != OUTSIDE_Q) { qOut[i] = c; }
    }
    return;
  }
  let W = WG + 2u * K;
  let x0 = i32(tx * WG) - i32(K);
  let y0 = i32(ty * WG) - i32(K);
  let redo = mode == MODE_REDO;
  for (var t = li; t < W * W; t += WG * WG) {
    let cx = x0 + i32(t % W);
    let cy = y0 + i32(t / W);
    var v = OUTSIDE_Q;
    if (cx >= 0 && cy >= 0 && u32(cx) < U.nx && u32(cy) < U.ny) {
      let j = base + u32(cy) * U.nx + u32(cx);
      if (redo) { v = qPrevIn[j]; } else { v = qIn[j]; }
    }
    qS[t] = v;
    wallS[t] = -1;
  }
  workgroupBarrier();
  // the wall cells in the region: those of this tile and of its 8 neighbours (the halo is ≤ one tile wide)
  let starts = TILE_START_AT + lane * (TILES_X * TILES_Y + 1u);
  for (var n = 0u; n < 9u; n++) {
    let ntx = i32(tx) + i32(n % 3u) - 1;
    let nty = i32(ty) + i32(n / 3u) - 1;
    if (ntx < 0 || nty < 0 || u32(ntx) >= TILES_X || u32(nty) >= TILES_Y) { continue; }
    let nt = u32(nty) * TILES_X + u32(ntx);
    let end = stepData[starts + nt + 1u];
    for (var e = stepData[starts + nt] + li; e < end; e += WG * WG) {
      let k = stepData[TILE_WALLS_AT + U.wallOffset + e];
      let cell = walls[U.wallOffset + k].index;
      let lx = i32(cell % U.nx) - x0;
      let ly = i32(cell / U.nx) - y0;
      if (lx >= 0 && ly >= 0 && u32(lx) < W && u32(ly) < W) { wallS[u32(ly) * W + u32(lx)] = i32(k); }
    }
  }
  workgroupBarrier();
  let rq = U.r * QUANTA;
  let qk = U.quantaOffset; // the wall quanta lead stepData, then the two guard limits
  let guardAbove = bitcast<i32>(stepData[qk + U.nWalls]);
  let guardBelow = bitcast<i32>(stepData[qk + U.nWalls + 1u]);
  for (var s = 0u; s < run; s++) {
    // Φ̃ where sub-step s's stencil reads it: the cells at least s inside the region
    for (var t = li; t < W * W; t += WG * WG) {
      let lx = t % W;
      let ly = t / W;
      if (lx >= s && lx < W - s && ly >= s && ly < W - s) {
        let v = qS[t];
        var p = OUTSIDE_PHI;
        if (v != OUTSIDE_Q) { p = phiOfTheta(thetaOfQ(v)); }
        phiS[t] = p;
      }
    }
    workgroupBarrier();
    // the stencil and the wall flux on the cells at least s + 1 inside: diffusion_step.wgsl's integers
    for (var t = li; t < W * W; t += WG * WG) {
      let lx = t % W;
      let ly = t / W;
      if (lx > s && lx + s + 1u < W && ly > s && ly + s + 1u < W) {
        let c = qS[t];
        if (c != OUTSIDE_Q) {
          var v = c - faceFluxSum(phiS[t], phiS[t - 1u], phiS[t + 1u], phiS[t - W], phiS[t + W], rq);
          let k = wallS[t];
          if (k >= 0) {
            v = v + bitcast<i32>(stepData[qk + u32(k)]);
            let own = lx >= K && lx < K + WG && ly >= K && ly < K + WG;
            if (own && mode == MODE_STEP) {
              let guard = v > guardAbove || v < guardBelow;
              let phiW = phiOfTheta(thetaOfQ(v)) - U.surfaceFactor * walls[U.wallOffset + u32(k)].surfaceOffset;
              let cut = (U.checkBelow != 0u && phiW <= U.stopBelowPhi) || (U.checkAbove != 0u && phiW >= U.stopAbovePhi);
              let reason = select(select(0u, 1u, cut), 2u, guard);
              if (reason != 0u) { atomicMax(&state[setWord(l0, cur, 2u + s)], reason); }
            }
          }
          qS[t] = v;
        }
      }
    }
    workgroupBarrier();
  }
  if (inGrid) {
    let v = qS[(lid.y + K) * W + lid.x + K];
    if (v != OUTSIDE_Q) { qOut[i] = v; }
  }
}

@compute @workgroup_size(1)
fn finalize(@builtin(workgroup_id) wg: vec3u) {
  let lane = selectLane(wg.x);
  let l0 = lane * 3u * setWords();
  // after the resolving block: its set carries the run's stop
  let stop = atomicLoad(&state[setWord(l0, block.phase, 0u)]);
  atomicStore(&state[lane * STATE_WORDS], stop);
  clearSet(l0, 0u, 0u);
  clearSet(l0, 1u, 0u);
  clearSet(l0, 2u, stop);
}

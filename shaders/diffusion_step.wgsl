// One whole explicit step per dispatch: diffusion, boundary flux, θs min/max and the stop decision.
//
// Diffusion: ∂θ/∂t = ∇·(D(θ)∇θ) inside the particle, on the fixed-point state q = (θ0 − θ)·QUANTA:
//   q_i ← q_i − Σ_{inside 4-neighbours j} trunc(r·QUANTA·(Φ̃(θ_j) − Φ̃(θ_i)))
// (Kirchhoff face fluxes; truncation is odd, so cell j computes exactly the negative integer). Each
// workgroup first evaluates Φ̃ once for its tile plus a one-cell halo into workgroup memory (one
// table lookup per cell instead of five), then applies the stencil from the tile. A tile is
// (PER·WG_X)×(PER·WG_Y) cells, each invocation taking PER×PER of them: 16×16 with PER = 1 on a GPU,
// 32×32 with PER = 2, 4 or 8 (4 by default on a CPU implementation; src/kernels/diffusionStep.ts
// CellsPerInvocation). Faces to outside
// cells carry no diffusive flux. The grid has a margin of outside cells on every side, so inside
// cells never index past the lane.
// Boundary flux, in the same workgroup: before the tile barrier the invocations mark the tile's wall
// cells (the lane's wall list sorted by tile, tileWallStart/tileWalls), one per invocation and round,
// with their wall numbers in workgroup memory; after it, the invocation that updates a wall cell
//   adds q_w ← q_w + wallQuanta_w to its new value (the host splits sign·Δt·q0/h·fluxWeight_w·QUANTA
//   into integers whose total per step is exact to ½ quantum: src/solver/quanta.ts), raises the θ-range
//   guard when q_w is above wallQuanta[nWalls] (charge) or below wallQuanta[nWalls + 1] (discharge),
//   and tests the true wall value Φ̃(θs) = Φ̃(θ_w) − surfaceFactor·surfaceOffset_w against the cut-offs
//   (some wall cell at or past the charge cut-off is the same as their minimum there);
// a cell that raised the guard or crossed a cut-off raises the lane's stop reason for this step, one
// global atomicMax of 2 (guard) or 1 (cut-off) into the step's slot: the maximum is the CPU
// reference's order (guard first). Integer atomics are exact and order-independent, so the result does
// not depend on which workgroup runs first, and in a step that stops nothing no wall cell writes.
// The stop decision (why three slots): WGSL has no memory barrier across workgroups, so no workgroup
// can know that the others have finished this step's wall cells. Instead every workgroup of step j
// decides from step j − 1's slot, complete because a dispatch boundary lies between them: the reason
// raised in it or carried into it, or 0. All of a lane's workgroups read the same slot, so they
// agree. A stopped lane's workgroups copy their cells through unchanged (they learn of the stop
// after the tile barrier), so later steps of a submit are no-ops, the ping-pong buffers stay
// consistent and the step that crossed is kept, exactly like the CPU reference. Slots rotate with
// step j of the submit (mod 3): step j accumulates into slot j, reads slot j − 1 and the lane's
// first workgroup resets slot j + 1 (read by nobody this step, accumulated into by the next: so a
// slot holds its own step's reason only; as a stop, once raised, is carried on unchanged, the reset
// changes no decision), carries a stop into slot j and counts the step (state[1]) when it is taken. `finalize`, one
// invocation per lane after the last step of a submit (from the submit's step count, ticket[1]),
// makes the same decision from the last slot, stores it in state[0] for the host's readback and
// leaves the slots as a new submit expects them (slot 2 = "the step before", carrying the stop;
// slots 0 and 1 zero).
// Dispatch: (x, y) walk `tiles` (the tiles that hold an inside cell of any lane of the batch, so
// tiles wholly outside cost nothing), z walks activeLanes (kirchhoff.wgsl).
// Which step of the submit a dispatch is (d: the ping-pong parity, and the slot phase d mod 3) is
// counted on the GPU where the dispatch is small (COUNT_STEPS; src/kernels/diffusionStep.ts says
// when), so that the host records a step as one dispatchWorkgroups and nothing else: every
// workgroup takes a ticket, atomicAdd on one word at its start; d = ticket / (workgroups per
// dispatch). All tickets of a dispatch are taken before any of the next (a dispatch boundary lies
// between), and all accesses are read-modify-writes of one atomic word, whose modification order is
// total, so every workgroup of step d gets a ticket in [d·M, (d + 1)·M) with no memory-ordering
// assumption across words. The first ticket of a dispatch records d + 1 in ticket[1] for finalize.
// Bindings (group 0): 0 StepUniforms per lane, 1 Φ̃ tables, 2 active lanes, 3 q before even steps,
// 4 q before odd steps, 5 run states (atomic), 6 wall cells, 7 step data (wall quanta and guard
// limits per lane, the tile list, per lane the tile starts of its wall list and the list itself),
// 8 the step counter.

// the state before the even steps of a submit (0, 2, …) and before the odd ones: step d reads one
// and writes the other, so one bind group serves every step of a submit. Host-phased
// (src/kernels/diffusionStep.ts hostPhasedSource): qEven is each step's input, read-only, and qOdd its
// output, as the per-step bind group says.
@group(0) @binding(3) var<storage, read_write> qEven: array<i32>;
@group(0) @binding(4) var<storage, read_write> qOdd: array<i32>;
@group(0) @binding(5) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read> walls: array<Wall>;
@group(0) @binding(7) var<storage, read> stepData: array<u32>;
// COUNT_STEPS: the step counter, cleared at the start of each submit (0 workgroups started in this
// submit, 1 steps started; see main). Else the host binds one of six 8-byte blocks per step, whose
// word 0 is the step's index mod 6 (all that the parity and the slot phase need).
@group(0) @binding(8) var<storage, read_write> ticket: array<atomic<u32>, 2>;
override COUNT_STEPS: bool = true;

override WG_X: u32 = 16;
override WG_Y: u32 = 16;
// cells per invocation along each axis: a tile is (PER·WG_X)×(PER·WG_Y) cells, invocation (x, y)
// taking cells (x + a·WG_X, y + b·WG_Y) for a, b < PER (neighbouring invocations, neighbouring cells)
override PER: u32 = 1;
// the batch's tiling (src/kernels/diffusionStep.ts): tiles per row and column, the dispatched tiles
// and the width of the dispatch grid that walks them, and where each table starts in stepData
override TILES_X: u32 = 1;
override TILES_Y: u32 = 1;
override TILE_COUNT: u32 = 1;
override SLOTS_X: u32 = 1;
override TILE_LIST_AT: u32 = 0;
override TILE_START_AT: u32 = 0;
override TILE_WALLS_AT: u32 = 0;

var<workgroup> tile: array<f32, (PER * WG_X + 2) * (PER * WG_Y + 2)>;
// Workgroup memory starts zeroed (WGSL), which is what these need at the start of a step:
// per cell of the tile 0, or 1 + its wall number k when it is a wall cell (scattered by the tile's
// wall-list invocations before the tile barrier, read by the cell's own invocation after it)
var<workgroup> wallSlot: array<u32, PER * WG_X * PER * WG_Y>;
// written by invocation 0 before the first barrier: x the step of the submit d, y the stop reason
var<workgroup> head: vec2u;

/** q at linear index j before step d (odd: an odd step of the submit) */
fn loadQ(odd: bool, j: u32) -> i32 {
  if (odd) { return qOdd[j]; }
  return qEven[j];
}

/** q at linear index i after step d */
fn storeQ(odd: bool, i: u32, v: i32) {
  if (odd) { qEven[i] = v; } else { qOdd[i] = v; }
}

/** The word of step slot `slot` (0–2) in a lane's run state: the stop reason raised in or carried into that step. */
fn slotWord(s0: u32, slot: u32) -> u32 {
  return s0 + SLOT0_WORD + slot;
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32, @builtin(num_workgroups) nw: vec3u) {
  // One barrier per step, between filling the tile and the stencil, and one more where the step is
  // counted on the GPU (invocation 0's ticket says which step it is). Every barrier is in uniform control
  // flow: the step and the stop (read_write memory) steer only branches without barriers, and a
  // stopped lane's workgroups pass the barriers too. The code avoids branches where it can: a CPU
  // implementation of the GPU (lavapipe) runs both sides of a divergent one.
  let slotIndex = wg.y * SLOTS_X + wg.x;
  let lane = selectLane(wg.z);
  let s0 = lane * STATE_WORDS;
  if (li == 0u) {
    var d: u32;
    if (COUNT_STEPS) {
      // this dispatch's step d within the submit (see the header); overhanging workgroups count too
      let perStep = nw.x * nw.y * nw.z;
      let t = atomicAdd(&ticket[0], 1u);
      d = t / perStep;
      if (t % perStep == 0u) { atomicMax(&ticket[1], d + 1u); }
    } else {
      d = atomicLoad(&ticket[0]); // d mod 6, from the block the host bound
    }
    if (slotIndex < TILE_COUNT) {
      let cur = d % 3u;
      let stop = atomicLoad(&state[slotWord(s0, (cur + 2u) % 3u)]);
      head = vec2u(d, stop);
      if (slotIndex == 0u) {
        // the lane's first workgroup: next step's slot, the stop carried on, the step counted
        atomicStore(&state[slotWord(s0, (cur + 1u) % 3u)], 0u);
        if (stop != 0u) { atomicStore(&state[slotWord(s0, cur)], stop); }
        else { atomicAdd(&state[s0 + 1u], 1u); }
      }
    }
  }
  if (slotIndex >= TILE_COUNT) { return; } // the dispatch grid's last row may overhang the list
  let tileId = stepData[TILE_LIST_AT + slotIndex];
  let tx = tileId % TILES_X;
  let ty = tileId / TILES_X;
  // the tile's slice of the lane's tile-sorted wall list (read-only storage at uniform indices: a
  // uniform value, so `tileWalls != 0` below is a uniform branch that tiles without walls skip)
  let startAt = TILE_START_AT + lane * (TILES_X * TILES_Y + 1u) + tileId;
  let wallsFrom = stepData[startAt];
  let tileWalls = stepData[startAt + 1u] - wallsFrom;
  // which step of the submit: from invocation 0's ticket, or from the block the host bound
  var d: u32;
  if (COUNT_STEPS) { workgroupBarrier(); d = head.x; } else { d = atomicLoad(&ticket[0]); }
  let odd = (d & 1u) == 1u;
  let base = lane * U.nx * U.ny;
  let TW = PER * WG_X;
  let TH = PER * WG_Y;
  for (var w = li; w < tileWalls; w += WG_X * WG_Y) {
    // the tile's wall cells, one per invocation and round: each marks its cell
    let k = stepData[TILE_WALLS_AT + U.wallOffset + wallsFrom + w];
    let cell = walls[U.wallOffset + k].index;
    wallSlot[(cell / U.nx - ty * TH) * TW + (cell % U.nx - tx * TW)] = k + 1u;
  }
  // Φ̃ of the tile and its halo (also for a stopped lane, whose stop is read after the barrier)
  let tw = TW + 2u;
  let x0 = i32(tx * TW) - 1;
  let y0 = i32(ty * TH) - 1;
  for (var t = li; t < tw * (TH + 2u); t += WG_X * WG_Y) {
    let cx = x0 + i32(t % tw);
    let cy = y0 + i32(t / tw);
    var p = OUTSIDE_PHI;
    if (cx >= 0 && cy >= 0 && u32(cx) < U.nx && u32(cy) < U.ny) {
      let v = loadQ(odd, base + u32(cy) * U.nx + u32(cx));
      if (v != OUTSIDE_Q) { p = phiOfTheta(thetaOfQ(v)); }
    }
    tile[t] = p;
  }
  workgroupBarrier();
  let stopped = head.y != 0u;
  for (var b = 0u; b < PER; b++) {
    for (var a = 0u; a < PER; a++) {
      let lx = lid.x + a * WG_X;
      let ly = lid.y + b * WG_Y;
      let gx = tx * TW + lx;
      let gy = ty * TH + ly;
      let i = base + gy * U.nx + gx;
      var c = OUTSIDE_Q;
      if (gx < U.nx && gy < U.ny) { c = loadQ(odd, i); }
      // the stencil (a stopped lane's cells are copied through unchanged)
      var v = c;
      if (c != OUTSIDE_Q && !stopped) {
        let t = (ly + 1u) * tw + lx + 1u;
        v = c - faceFluxSum(tile[t], tile[t - 1u], tile[t + 1u], tile[t - tw], tile[t + tw], U.r * QUANTA);
      }
      if (tileWalls != 0u) {
        // a wall cell: the boundary flux on its new value, then the θ-range guard and the cut-offs
        let slot = wallSlot[ly * TW + lx];
        if (slot != 0u && !stopped) {
          let k = slot - 1u;
          let qk = U.quantaOffset; // the wall quanta lead stepData
          v += bitcast<i32>(stepData[qk + k]);
          let guard = v > bitcast<i32>(stepData[qk + U.nWalls]) || v < bitcast<i32>(stepData[qk + U.nWalls + 1u]);
          let phiS = phiOfTheta(thetaOfQ(v)) - U.surfaceFactor * walls[U.wallOffset + k].surfaceOffset;
          let cut = (U.checkBelow != 0u && phiS <= U.stopBelowPhi) || (U.checkAbove != 0u && phiS >= U.stopAbovePhi);
          let reason = select(select(0u, 1u, cut), 2u, guard);
          if (reason != 0u) { atomicMax(&state[slotWord(s0, d % 3u)], reason); }
        }
      }
      if (c != OUTSIDE_Q) { storeQ(odd, i, v); }
    }
  }
}

@compute @workgroup_size(1)
fn finalize(@builtin(workgroup_id) wg: vec3u) {
  let s0 = selectLane(wg.x) * STATE_WORDS;
  // after the submit's last step: its step count (host-phased: the block of step count mod 6)
  let steps = select(atomicLoad(&ticket[0]), atomicLoad(&ticket[1]), COUNT_STEPS);
  let stop = atomicLoad(&state[slotWord(s0, (steps + 2u) % 3u)]);
  atomicStore(&state[s0], stop);
  atomicStore(&state[slotWord(s0, 0u)], 0u);
  atomicStore(&state[slotWord(s0, 1u)], 0u);
  atomicStore(&state[slotWord(s0, 2u)], stop);
}

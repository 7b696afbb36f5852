/**
 * SPEC §1's exact solution for constant D and uniform flux q0 on a disk of radius R:
 *   u(ρ, τ) = 2τ + ρ²/2 − 1/4 − 2 Σn J0(αn ρ) e^(−αn² τ) / (αn² J0(αn)),  J1(αn) = 0,
 * with u = (θ0 − θ)·D/(q0·R), τ = D·t/R², ρ = r/R. Bessel functions by their integral
 * representation Jn(x) = (1/π)∫0^π cos(nt − x sin t) dt (Simpson, accurate to ~1e-12 here).
 */
export function besselJ(n: number, x: number): number {
  const m = 400; // even
  const h = Math.PI / m;
  let s = 0;
  for (let k = 0; k <= m; k++) {
    const t = k * h;
    const w = k === 0 || k === m ? 1 : k % 2 ? 4 : 2;
    s += w * Math.cos(n * t - x * Math.sin(t));
  }
  return (s * h) / 3 / Math.PI;
}

/** First `count` positive zeros of J1 (Newton from McMahon's estimate; J1' = J0 − J1/x). */
export function besselJ1Zeros(count: number): number[] {
  const zeros: number[] = [];
  for (let n = 1; n <= count; n++) {
    let x = (n + 0.25) * Math.PI - 3 / (8 * (n + 0.25) * Math.PI);
    for (let it = 0; it < 30; it++) {
      const j1 = besselJ(1, x);
      const d = besselJ(0, x) - j1 / x;
      const dx = j1 / d;
      x -= dx;
      if (Math.abs(dx) < 1e-13) break;
    }
    zeros.push(x);
  }
  return zeros;
}

const ZEROS = besselJ1Zeros(60);

export function exactU(rho: number, tau: number): number {
  let s = 0;
  for (const a of ZEROS) {
    const e = Math.exp(-a * a * tau);
    if (e < 1e-18) break;
    s += (besselJ(0, a * rho) * e) / (a * a * besselJ(0, a));
  }
  return 2 * tau + (rho * rho) / 2 - 0.25 - 2 * s;
}

/**
 * @module Seeded pseudo-random numbers for the simulator (mulberry32), so simulated ids and
 * fault schedules are the same on every run with the same seed.
 */

/** Returns a number in [0, 1), like `Math.random`. */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` lowercase hex digits. */
export function randomHex(random: Random, length: number): string {
  let hex = "";
  for (let i = 0; i < length; i++) hex += Math.floor(random() * 16).toString(16);
  return hex;
}

/** A uniformly distributed number in [min, max). */
export function uniform(random: Random, min: number, max: number): number {
  return min + (max - min) * random();
}

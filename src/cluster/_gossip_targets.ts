// Whom a gossip round goes to.
import { type GossipState, isLive } from "./_member_state.ts";

/**
 * Picks up to `fanOut` live members other than `self`, preferring (80 % of picks, as Akka does)
 * those that have not seen the state, so news spreads where it is missing while news from
 * others is still pulled.
 *
 * @returns Member keys, distinct.
 */
export function pickGossipTargets(
  state: GossipState,
  self: string,
  fanOut: number,
  random: () => number,
): string[] {
  const candidates: string[] = [];
  const unseen: string[] = [];
  for (const [key, row] of state.members) {
    if (key === self || !isLive(row)) continue;
    candidates.push(key);
    if (!state.seen.has(key)) unseen.push(key);
  }
  const picked = new Set<string>();
  for (let i = 0; i < fanOut && picked.size < candidates.length; i++) {
    const pool = unseen.length > 0 && random() < 0.8 ? unseen : candidates;
    const choice = pool[Math.floor(random() * pool.length)];
    picked.add(choice);
    const at = unseen.indexOf(choice);
    if (at >= 0) unseen.splice(at, 1);
  }
  return [...picked];
}

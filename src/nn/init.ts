// Initialisers as functions of a seeded Rng, so a model built twice with one seed is identical.
// normal(std) as HF's `initializer_range`; kaiming-uniform as torch's nn.Linear default.

import type { Rng } from '../tensor/ops/creation.ts';
import { defaultRng } from '../tensor/ops/creation.ts';

export type Init = (i: number) => number;

export const zerosInit: Init = () => 0;
export const onesInit: Init = () => 1;
export const constantInit = (v: number): Init => () => v;

export function normalInit(std: number, rng: Rng = defaultRng(), mean = 0): Init {
  return () => mean + std * rng.normal();
}

export function uniformInit(bound: number, rng: Rng = defaultRng()): Init {
  return () => (2 * rng.next() - 1) * bound;
}

/** torch's default for Linear/Conv weights: kaiming_uniform(a=√5) = U(±1/√fanIn). */
export function kaimingUniformInit(fanIn: number, rng: Rng = defaultRng()): Init {
  return uniformInit(1 / Math.sqrt(fanIn), rng);
}

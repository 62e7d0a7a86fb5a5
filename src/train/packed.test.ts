// PackedSamples gives back every sample as it was packed: ids, labels, any number of images and audios.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EncodedSample } from '../models/tessera/processor.ts';
import { PackedSamples } from './packed.ts';

const media = (n: number, size: number, seed: number) => Array.from({ length: n }, (_, k) => Float32Array.from({ length: size }, (_, i) => seed + k + i / 7));

test('every packed sample comes back equal, media as views of the packed storage', () => {
  const samples: EncodedSample[] = [
    { id: 's1', inputIds: [1, 2, 3], labels: [-100, 2, 3], pixelValues: media(1, 12, 1), audioFeatures: [], audioLengths: [] },
    { id: 'mixed-2', inputIds: [4, 5], labels: [-100, -100], pixelValues: media(2, 12, 2), audioFeatures: media(1, 6, 3), audioLengths: [4] },
    { id: '', inputIds: [], labels: [], pixelValues: [], audioFeatures: [], audioLengths: [] },
    { id: 'a4', inputIds: [9], labels: [9], pixelValues: [], audioFeatures: media(2, 6, 5), audioLengths: [6, 2] },
  ];
  const packed = PackedSamples.pack(samples);
  assert.equal(packed.length, 4);
  samples.forEach((s, i) => assert.deepEqual(packed.at(i), s));
  assert.equal(packed.at(4), undefined);
  assert.equal(packed.at(-1), undefined);
  // the views share one buffer
  assert.equal(packed.at(1)!.pixelValues[1]!.buffer, packed.at(0)!.pixelValues[0]!.buffer);
});

test('samples whose media differ in size are refused, naming what differs', () => {
  const s = (n: number): EncodedSample => ({ id: `s${n}`, inputIds: [1], labels: [1], pixelValues: media(1, n, 0), audioFeatures: [], audioLengths: [] });
  assert.throws(() => PackedSamples.pack([s(12), s(8)]), /PackedSamples: images of different sizes \(12 and 8 values\)/);
});

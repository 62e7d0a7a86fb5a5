// PackedSamples gives back every sample as it was packed: ids, labels, any number of images and audios; images read
// from one file are stored once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EncodedSample } from '../models/tessera/processor.ts';
import { PackedSamples } from './packed.ts';
import { sharePixels } from './run.ts';

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
  // audio as views of one buffer, images as the arrays given
  assert.equal(packed.at(3)!.audioFeatures[1]!.buffer, packed.at(1)!.audioFeatures[0]!.buffer);
  assert.equal(packed.at(1)!.pixelValues[1], samples[1]!.pixelValues[1]);
});

test('samples whose media differ in size are refused, naming what differs', () => {
  const s = (n: number): EncodedSample => ({ id: `s${n}`, inputIds: [1], labels: [1], pixelValues: media(1, n, 0), audioFeatures: [], audioLengths: [] });
  assert.throws(() => PackedSamples.pack([s(12), s(8)]), /PackedSamples: images of different sizes \(12 and 8 values\)/);
});

test('images read from one file are kept once and come back in every sample that named it', () => {
  const [a, b] = media(2, 12, 4);
  const samples: EncodedSample[] = [
    { id: 'q1', inputIds: [1], labels: [1], pixelValues: [a!], audioFeatures: [], audioLengths: [], imageFiles: ['/d/a.png'] },
    { id: 'q2', inputIds: [2], labels: [2], pixelValues: [b!, a!], audioFeatures: [], audioLengths: [], imageFiles: ['/d/b.png', '/d/a.png'] },
    { id: 'q3', inputIds: [3], labels: [3], pixelValues: [a!.slice()], audioFeatures: [], audioLengths: [], imageFiles: ['/d/a.png'] },
    { id: 'drawn', inputIds: [4], labels: [4], pixelValues: [a!.slice()], audioFeatures: [], audioLengths: [] },
  ];
  const packed = PackedSamples.pack(samples);
  assert.equal(packed.distinctImages, 3); // a.png, b.png, and the image that named no file
  samples.forEach((s, i) => assert.deepEqual(packed.at(i), s));
  assert.equal(packed.at(2)!.pixelValues[0], packed.at(0)!.pixelValues[0], 'one array for a.png');
  assert.notEqual(packed.at(3)!.pixelValues[0], packed.at(0)!.pixelValues[0]);
  // one array given to several samples without file names is kept once too
  const same = { inputIds: [1], labels: [1], pixelValues: [b!], audioFeatures: [], audioLengths: [] };
  assert.equal(PackedSamples.pack([{ id: 'x', ...same }, { id: 'y', ...same }]).distinctImages, 1);
  assert.throws(() => PackedSamples.pack([{ ...samples[1]!, imageFiles: ['/d/b.png'] }]), /sample q2 names 1 image files for 2 images/);
});

test('while a stage reads, samples that read one image file are given one pixel array (sharePixels)', () => {
  const seen = new Map<string, Float32Array>();
  const [a, b] = media(2, 12, 9);
  const first: EncodedSample = { id: 'q1', inputIds: [1], labels: [1], pixelValues: [a!], audioFeatures: [], audioLengths: [], imageFiles: ['/d/a.png'] };
  const again: EncodedSample = { id: 'q2', inputIds: [2], labels: [2], pixelValues: [a!.slice(), b!], audioFeatures: [], audioLengths: [], imageFiles: ['/d/a.png', '/d/b.png'] };
  const drawn: EncodedSample = { id: 'q3', inputIds: [3], labels: [3], pixelValues: [a!.slice()], audioFeatures: [], audioLengths: [] };
  sharePixels(first, seen);
  sharePixels(again, seen);
  sharePixels(drawn, seen);
  assert.equal(again.pixelValues[0], first.pixelValues[0]);
  assert.equal(again.pixelValues[1], b);
  assert.notEqual(drawn.pixelValues[0], first.pixelValues[0]);
  const pair = sharePixels({ chosen: { ...again, pixelValues: [a!.slice(), b!.slice()] }, rejected: { ...again, pixelValues: [a!.slice(), b!.slice()] } }, seen);
  assert.equal(pair.chosen.pixelValues[0], a);
  assert.equal(pair.rejected.pixelValues[1], b);
});

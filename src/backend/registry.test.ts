// withBackendAsync: the backend stays active across the function's awaits and the previous one comes back when it
// settles, resolved or rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getBackend, withBackendAsync } from './registry.ts';
import { referenceBackend } from './reference/index.ts';

test('withBackendAsync keeps its backend across awaits and restores the previous one, also on a rejection', async () => {
  const before = getBackend();
  const other = { ...referenceBackend, name: 'other' } as typeof referenceBackend;
  const seen = await withBackendAsync(other, async () => {
    await new Promise((r) => setImmediate(r));
    return getBackend().name;
  });
  assert.equal(seen, 'other');
  assert.equal(getBackend(), before);
  await assert.rejects(withBackendAsync(other, async () => { await new Promise((r) => setImmediate(r)); throw new Error('boom'); }), /boom/);
  assert.equal(getBackend(), before);
});

import { describe, expect, it } from 'vitest';
import { canonicalJson, dagHash } from './canonical.ts';

describe('canonical JSON', () => {
  it('key order and whitespace never change the hash', () => {
    const a = JSON.parse('{"b": 1, "a": {"y": [1, {"q": 2, "p": 3}], "x": null}}');
    const b = JSON.parse('{"a":{"x":null,"y":[1,{"p":3,"q":2}]},"b":1}');
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(dagHash(a)).toBe(dagHash(b));
  });

  it('array order and values do change the hash', () => {
    expect(dagHash({ tags: ['a', 'b'] })).not.toBe(dagHash({ tags: ['b', 'a'] }));
    expect(dagHash({ retries: 1 })).not.toBe(dagHash({ retries: 2 }));
  });
});

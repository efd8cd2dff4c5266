import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LoginThrottle, type LoginThrottleOptions } from '../../src/api/login-throttle.ts';

/** A throttle on a clock the test moves. */
function throttle(options: Partial<LoginThrottleOptions> = {}) {
  const clock = { now: 1_000_000 };
  const t = new LoginThrottle({ maxFailuresPerAddress: 5, windowMs: 60_000, freeFailuresPerUsername: 3, maxUsernameBackoffMs: 5_000, maxEntries: 100, now: () => clock.now, ...options });
  return { t, clock };
}

/** A failed attempt: allowed, and not followed by succeeded(). */
function fail(t: LoginThrottle, address: string, username: string): void {
  assert.equal(t.attempt(address, username), null, `attempt from ${address} as ${username} was refused`);
}

describe('LoginThrottle', () => {
  test('blocks an address after its failures until the oldest leaves the window', () => {
    const { t, clock } = throttle({ freeFailuresPerUsername: 1000 });
    for (let i = 0; i < 5; i++) {
      fail(t, '10.0.0.1', `user${i}`);
      clock.now += 1000;
    }
    const refused = t.attempt('10.0.0.1', 'admin');
    assert.equal(refused?.reason, 'address');
    assert.equal(refused?.retryAfterMs, 60_000 - 5_000);
    assert.equal(t.attempt('10.0.0.2', 'admin'), null, 'another address is not affected');
    clock.now += 55_000;
    assert.equal(t.attempt('10.0.0.1', 'admin'), null, 'the oldest failure left the window');
  });

  test('successful logins do not count, and clear the address and the username', () => {
    const { t } = throttle();
    for (let round = 0; round < 20; round++) {
      assert.equal(t.attempt('10.0.0.1', 'admin'), null);
      t.succeeded('10.0.0.1', 'admin');
    }
    for (let i = 0; i < 3; i++) fail(t, '10.0.0.1', 'admin');
    t.succeeded('10.0.0.1', 'admin');
    for (let i = 0; i < 3; i++) fail(t, '10.0.0.1', 'admin');
    assert.equal(t.attempt('10.0.0.1', 'admin')?.reason, 'username', 'only the failures since the success count');
  });

  test('an attempt counts as soon as it is allowed, so concurrent guesses cannot all pass', () => {
    const { t } = throttle({ freeFailuresPerUsername: 1000 });
    // Five attempts in flight (no outcome yet): the sixth is refused.
    for (let i = 0; i < 5; i++) assert.equal(t.attempt('10.0.0.1', `u${i}`), null);
    assert.equal(t.attempt('10.0.0.1', 'u5')?.reason, 'address');
  });

  test('failures for a username from many addresses cause only a short back-off for everyone', () => {
    const { t, clock } = throttle();
    // An attacker spread over many addresses, each failing once.
    for (let i = 0; i < 3; i++) fail(t, `192.0.2.${i}`, 'admin');
    let refused = t.attempt('198.51.100.7', 'admin');
    assert.deepEqual(refused, { reason: 'username', retryAfterMs: 1000 });
    clock.now += 1000;
    fail(t, '192.0.2.3', 'admin');
    refused = t.attempt('198.51.100.7', 'admin');
    assert.deepEqual(refused, { reason: 'username', retryAfterMs: 2000 });
    // However long it goes on, the wait after the last failure never exceeds the cap.
    for (let i = 4; i < 40; i++) {
      clock.now += 5000;
      fail(t, `192.0.2.${i}`, 'admin');
      const wait = t.attempt('198.51.100.7', 'admin');
      assert.equal(wait?.reason, 'username');
      assert.ok(wait.retryAfterMs <= 5000, `waited ${wait.retryAfterMs} ms`);
    }
    // The admin, from its own address, gets in after the back-off.
    clock.now += 5000;
    assert.equal(t.attempt('198.51.100.7', 'admin'), null);
    t.succeeded('198.51.100.7', 'admin');
    assert.equal(t.attempt('192.0.2.99', 'admin'), null, 'the success cleared the username back-off');
  });

  test('the username back-off does not touch other usernames', () => {
    const { t } = throttle();
    for (let i = 0; i < 3; i++) fail(t, `192.0.2.${i}`, 'admin');
    assert.equal(t.attempt('192.0.2.50', 'admin')?.reason, 'username');
    assert.equal(t.attempt('192.0.2.50', 'operator'), null);
  });

  test('a username back-off is forgotten after a quiet window', () => {
    const { t, clock } = throttle();
    for (let i = 0; i < 10; i++) {
      fail(t, `192.0.2.${i}`, 'admin');
      clock.now += 5000;
    }
    clock.now += 60_000;
    for (let i = 0; i < 3; i++) fail(t, `192.0.2.${100 + i}`, 'admin');
    assert.deepEqual(t.attempt('192.0.2.200', 'admin'), { reason: 'username', retryAfterMs: 1000 }, 'counting started again');
  });

  test('memory stays bounded under a flood of made-up usernames and addresses', () => {
    const { t } = throttle({ maxEntries: 50 });
    for (let i = 0; i < 5000; i++) t.attempt(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, `user-${i}`);
    // The most recent ones are still tracked; the oldest were dropped.
    for (let i = 0; i < 2; i++) fail(t, '10.0.0.1', 'user-4999');
    assert.equal(t.attempt('10.0.0.2', 'user-4999')?.reason, 'username');
    assert.equal(t.attempt('10.0.0.2', 'user-0'), null);
  });
});

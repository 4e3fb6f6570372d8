// Seeds for property tests: the one in the environment variable if given (to replay a failure);
// under CI a fixed seed per property, so a landing is never decided by luck; otherwise a fresh
// random seed, so local runs keep exploring. Every property prints the seed it used.
export function pickSeed(envName: string): number {
  const given = process.env[envName];
  if (given !== undefined && given !== "") return Number(given);
  if (process.env.CI) return [...envName].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7) % 2 ** 31;
  return Math.floor(Math.random() * 2 ** 31);
}

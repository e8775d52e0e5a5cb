import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isAgentCard, registrationFromCard } from './agent-card.ts';

/** The A2A specification's sample Agent Card (section "Sample Agent Card"), as 0.3 and as 1.0. */
const sample = (v: string) =>
  JSON.parse(
    readFileSync(new URL(`../../test/fixtures/a2a-sample-card-v${v}.json`, import.meta.url), 'utf8'),
  );

describe('registrationFromCard', () => {
  for (const v of ['0.3', '1.0'])
    it(`registers the specification's sample card (v${v}): skills become capabilities, its URL the endpoint`, () => {
      const card = sample(v);
      expect(isAgentCard(card)).toBe(true);
      const r = registrationFromCard(card);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.registration).toMatchObject({
        name: 'GeoSpatial Route Planner Agent',
        endpoint: 'https://georoute-agent.example.com/a2a/v1',
        maxConcurrency: 1,
      });
      expect(r.registration.capabilities.map((c) => c.name)).toEqual([
        'route-optimizer-traffic',
        'custom-map-generator',
      ]);
      expect(r.registration.capabilities[0]!.tags).toContain('routing');
      expect(r.card.signatures).toBeDefined(); // the rest of the card is kept
    });

  it('names the card fields a bad card got wrong', () => {
    const card = { name: 'bad-card', url: 'ftp://x', skills: [{ id: 'Not Valid' }] };
    const r = registrationFromCard(card);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.details.map((d) => d.field).sort()).toEqual(['skills.0.id', 'url']);
    const none = registrationFromCard({ name: 'x', skills: 'none' });
    expect(!none.ok && none.details.map((d) => d.field)).toEqual(['skills']);
  });

  it('tells a card from a profile', () => {
    expect(isAgentCard({ name: 'a', capabilities: [{ name: 'x' }] })).toBe(false);
    expect(isAgentCard({ name: 'a', skills: [] })).toBe(true);
    expect(isAgentCard(null)).toBe(false);
  });
});

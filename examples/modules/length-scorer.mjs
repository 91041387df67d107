// An omega-pr scorer module: hard score = share of scenes answered with at least 40 words,
// soft score = mean length against a 120-word target. Replace with your engine's own judgement.
//   npx omega-pr stress --scorer examples/modules/length-scorer.mjs

/** @type {import('omega-pr').Scorer} */
export const scorer = {
  name: 'length-scorer',
  hardPassScore: 0.7,
  score({ scenes }) {
    const words = scenes.map((s) => (s.ok ? s.text.split(/\s+/).length : 0));
    const hardScore = words.filter((w) => w >= 40).length / scenes.length;
    const softScore = Math.min(1, words.reduce((a, w) => a + w, 0) / scenes.length / 120);
    return { hardScore, softScore, hardPass: hardScore >= 0.7, softPass: softScore >= 0.5, metrics: { words: words.reduce((a, w) => a + w, 0) } };
  },
};

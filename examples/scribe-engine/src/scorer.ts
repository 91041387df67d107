/** A simple deterministic scene scorer: the same text always gets the same score. */
import type { RunInput } from 'omega-pr';

/** Hard gate at or above this score. */
export const HARD_PASS = 0.7;
/** Soft gate at or above this score. */
export const SOFT_PASS = 0.75;

/**
 * Hard score: the scene names itself (0.4), has 20–600 words (0.4), ends a sentence (0.2).
 * Soft score: 0.5 + half the share of distinct words (repetition costs style points).
 */
export function scoreScene(sceneId: string, text: string): Pick<RunInput, 'hardScore' | 'softScore' | 'hardPass' | 'softPass'> {
  const words = text.toLowerCase().split(/[^\p{L}\p{N}-]+/u).filter((w) => w.length > 0);
  let hard = 0;
  if (text.includes(sceneId)) hard += 0.4;
  if (words.length >= 20 && words.length <= 600) hard += 0.4;
  if (/[.!?…]["'”]?\s*$/.test(text)) hard += 0.2;
  const distinct = new Set(words).size;
  const soft = words.length === 0 ? 0 : 0.5 + 0.5 * (distinct / words.length);
  const hardScore = Math.round(hard * 1e6) / 1e6;
  const softScore = Math.round(soft * 1e6) / 1e6;
  return { hardScore, softScore, hardPass: hardScore >= HARD_PASS, softPass: softScore >= SOFT_PASS };
}

/** The score of a scene that produced no text. */
export const FAILED_SCORE = { hardScore: 0, softScore: 0, hardPass: false, softPass: false } as const;

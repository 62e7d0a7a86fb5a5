// Builds the vision tower a `vision_config` names (CLIP or SigLIP).

import type { Json } from '../../../io/hf/config.ts';
import { ClipVisionTower } from './clip.ts';
import { parseVitConfig } from './config.ts';
import type { VisionTower } from './encoder.ts';
import { SiglipVisionTower } from './siglip.ts';

export function buildVisionTower(json: Json, where = 'config.json:vision_config'): VisionTower {
  const cfg = parseVitConfig(json, where);
  return cfg.kind === 'clip' ? new ClipVisionTower(cfg) : new SiglipVisionTower(cfg);
}

// Random scenes for the synthetic dataset: one to three coloured shapes on a background. Pure: a
// seeded Rng in, a plain Scene value out (rendering is svg.ts, captions are captions.ts).
import { pick, randInt, type Rng } from '../util/random.js';

// Three kinds and five colours that stay distinct after the encoder's 64x64 downscale (stars
// blurred into circles, and orange into red or yellow, which taught models to guess).
export const SHAPE_KINDS = ['circle', 'square', 'triangle'] as const;
export const SHAPE_COLOURS = ['red', 'yellow', 'green', 'blue', 'purple'] as const;
// Light backgrounds only: every colour stands out on each, as in a children's picture book.
export const BACKGROUNDS = ['white', 'gray', 'beige'] as const;
export const SHAPE_SIZES = ['small', 'large'] as const;

export type ShapeKind = (typeof SHAPE_KINDS)[number];
export type ShapeColour = (typeof SHAPE_COLOURS)[number];
export type Background = (typeof BACKGROUNDS)[number];
export type ShapeSize = (typeof SHAPE_SIZES)[number];
/** Which third of the picture a shape's centre lies in. */
export type Column = 'left' | 'middle' | 'right';

export interface Shape {
  kind: ShapeKind;
  colour: ShapeColour;
  size: ShapeSize;
  column: Column;
  /** Centre and radius (of the circumscribed circle) in pixels. */
  cx: number;
  cy: number;
  radius: number;
  rotationDeg: number;
}

export interface Scene {
  widthPx: number;
  heightPx: number;
  background: Background;
  /** Direction of the background's faint gradient (varies backgrounds without changing their name). */
  gradientAngleDeg: number;
  /** Shapes from left to right: captions say "to the left of" in this order. */
  shapes: Shape[];
}

// 128 px: big enough for clear shapes after the encoder's downscale, small enough to write fast.
export const SCENE_SIZE_PX = 128;
const COLUMNS: readonly Column[] = ['left', 'middle', 'right'];
// Radii keep a large shape inside its third of the picture (42 px wide), so shapes never overlap.
const RADIUS_PX: Record<ShapeSize, [number, number]> = { small: [10, 12], large: [17, 20] };

/** Picks `count` distinct columns, left to right. */
function pickColumns(rng: Rng, count: number): Column[] {
  const free = [...COLUMNS];
  const chosen: Column[] = [];
  for (let i = 0; i < count; i++) chosen.push(free.splice(randInt(rng, 0, free.length - 1), 1)[0] as Column);
  return chosen.sort((a, b) => COLUMNS.indexOf(a) - COLUMNS.indexOf(b));
}

/** One random scene: 1-3 shapes, each in its own third of the picture. */
export function randomScene(rng: Rng, sizePx = SCENE_SIZE_PX): Scene {
  const count = randInt(rng, 1, 3);
  const thirdPx = sizePx / 3;
  const shapes = pickColumns(rng, count).map((column): Shape => {
    const size = pick(rng, SHAPE_SIZES);
    const [minR, maxR] = RADIUS_PX[size];
    const radius = (minR + rng() * (maxR - minR)) * (sizePx / SCENE_SIZE_PX);
    const centreX = (COLUMNS.indexOf(column) + 0.5) * thirdPx;
    const jitterX = (thirdPx / 2 - radius) * (rng() * 2 - 1) * 0.6;
    return {
      kind: pick(rng, SHAPE_KINDS),
      colour: pick(rng, SHAPE_COLOURS),
      size,
      column,
      cx: centreX + jitterX,
      cy: radius + 4 + rng() * (sizePx - 2 * radius - 8),
      radius,
      rotationDeg: rng() * 30 - 15, // a small tilt: shapes stay recognisable as themselves
    };
  });
  return {
    widthPx: sizePx,
    heightPx: sizePx,
    background: pick(rng, BACKGROUNDS),
    gradientAngleDeg: randInt(rng, 0, 359),
    shapes,
  };
}

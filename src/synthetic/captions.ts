// Five differently worded reference captions for a scene. Every wording is built from what is in
// the picture (colours, kinds, sizes, count, left-to-right order), so a model must look to score.
import type { Column, Scene, Shape, ShapeKind } from './scene.js';

/** "a" or "an", by the next word's first letter (the vocabulary has no silent-h words). */
function article(nextWord: string): string {
  return /^[aeiou]/.test(nextWord) ? 'an' : 'a';
}

function withArticle(words: string[]): string {
  const phrase = words.join(' ');
  return `${article(phrase)} ${phrase}`;
}

const PLURAL: Record<ShapeKind, string> = { circle: 'circles', square: 'squares', triangle: 'triangles' };
const NUMBER_WORD = ['no', 'one', 'two', 'three'];

function where(column: Column): string {
  return column === 'middle' ? 'in the center' : `on the ${column}`;
}

/** "a red circle, a blue triangle and a green square" */
function listing(items: string[]): string {
  if (items.length === 1) return items[0] as string;
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** "two circles and a square", kinds in order of first appearance (left to right). */
function kindSummary(shapes: Shape[]): string {
  const counts = new Map<ShapeKind, number>();
  for (const s of shapes) counts.set(s.kind, (counts.get(s.kind) ?? 0) + 1);
  return listing([...counts].map(([kind, n]) => (n === 1 ? withArticle([kind]) : `${NUMBER_WORD[n]} ${PLURAL[kind]}`)));
}

function oneShape(scene: Scene, s: Shape): string[] {
  return [
    `${withArticle([s.size, s.colour, s.kind])} ${where(s.column)}`,
    `${withArticle([s.colour, s.kind])} on a ${scene.background} background`,
    `one ${s.colour} ${s.kind} ${where(s.column)} of the picture`,
    `a single ${s.size} ${s.kind} coloured ${s.colour}`,
    `there is ${withArticle([s.colour, s.kind])} ${where(s.column)}`,
  ];
}

function twoShapes(scene: Scene, a: Shape, b: Shape): string[] {
  const sameKind = a.kind === b.kind;
  return [
    `${withArticle([a.colour, a.kind])} to the left of ${withArticle([b.size, b.colour, b.kind])}`,
    `${withArticle([b.colour, b.kind])} to the right of ${withArticle([a.colour, a.kind])}`,
    `two shapes: ${withArticle([a.size, a.colour, a.kind])} and ${withArticle([b.size, b.colour, b.kind])}`,
    sameKind
      ? `two ${PLURAL[a.kind]}, one ${a.colour} and one ${b.colour}, on a ${scene.background} background`
      : `${withArticle([a.colour, a.kind])} and ${withArticle([b.colour, b.kind])} on a ${scene.background} background`,
    `${withArticle([a.size, a.kind])} on the left and ${withArticle([b.size, b.kind])} on the right`,
  ];
}

function threeShapes(scene: Scene, a: Shape, b: Shape, c: Shape): string[] {
  const colours = [...new Set([a.colour, b.colour, c.colour])];
  return [
    `three shapes: ${listing([a, b, c].map((s) => withArticle([s.colour, s.kind])))}`,
    `${withArticle([a.colour, a.kind])} on the left, ${withArticle([b.colour, b.kind])} in the middle and ${withArticle([c.colour, c.kind])} on the right`,
    `${withArticle([a.size, a.colour, a.kind])} next to ${withArticle([b.size, b.colour, b.kind])} and ${withArticle([c.size, c.colour, c.kind])}`,
    `three ${listing(colours)} shapes on a ${scene.background} background`,
    `${kindSummary([a, b, c])} in a row`,
  ];
}

/** Flickr8k style: a capital first letter and a detached final full stop ("A dog runs ."). */
function flickrStyle(caption: string): string {
  return `${caption.charAt(0).toUpperCase()}${caption.slice(1)} .`;
}

/** Exactly five captions, each worded differently, all true of the scene. */
export function describeScene(scene: Scene): string[] {
  const [a, b, c] = scene.shapes;
  let captions: string[];
  if (a && b && c) captions = threeShapes(scene, a, b, c);
  else if (a && b) captions = twoShapes(scene, a, b);
  else if (a) captions = oneShape(scene, a);
  else throw new Error(`a scene needs 1 to 3 shapes, got ${scene.shapes.length}`);
  return captions.map(flickrStyle);
}

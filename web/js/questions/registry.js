// The question kinds the annotator UI can show, one module each (as backend/questions/ has one per kind).
// A kind module exports:
//   create(question, task, {idp, shownAs}) -> {el, answer() -> part | null (null: not answered yet), missing (what to
//     say when a required answer is null), onKey(event) -> false | true | "next" (handled; "next": move on),
//     focus(), textEntry? (Ctrl+Enter submits), ready? (a Promise)}
//   consumes(question) -> the data fields the widget shows itself (or hides), left out of the task's data
//   help(question) -> lines of the Keys panel
// Adding a kind is adding its module here.
import * as bounding_boxes from "./bounding_boxes.js";
import * as free_text from "./free_text.js";
import * as multi_choice from "./multi_choice.js";
import * as pairwise from "./pairwise.js";
import * as ranking from "./ranking.js";
import * as rating from "./rating.js";
import * as single_choice from "./single_choice.js";
import * as text_edit from "./text_edit.js";
import * as text_spans from "./text_spans.js";

export const KINDS = { single_choice, multi_choice, rating, free_text, text_spans, bounding_boxes, pairwise, ranking, text_edit };

export function kindOf(question) {
  const kind = KINDS[question.kind];
  if (!kind) throw new Error(`This UI cannot show ${question.kind} questions.`);
  return kind;
}

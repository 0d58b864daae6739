//! The stage graph of an execution as SVG: one column per depth (the longest chain of
//! `requisiteStageRefIds` leading to a stage), stages in their pipeline order within a
//! column, edges from each requisite to its dependant. Boxes never overlap because every
//! stage has its own (column, row) cell.

use std::collections::HashMap;

use gennaker_model::StageExecution;
use gennaker_model::json::now_millis;
use maud::{Markup, html};

use super::format;
use super::gate::segment;

const NODE_WIDTH: i64 = 168;
const NODE_HEIGHT: i64 = 46;
const COLUMN_GAP: i64 = 48;
const ROW_GAP: i64 = 18;
const MARGIN: i64 = 8;
/// Longest stage name drawn in full inside a box.
const NAME_CHARS: usize = 22;

/// A stage's place in the drawing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub column: usize,
    pub row: usize,
}

/// Cells of `stages` (top-level ones, in order), keyed by position. A requisite that names
/// no stage is ignored; a cycle (which the API refuses to save) cannot loop forever because
/// depth is bounded by the stage count.
pub fn layout(stages: &[&StageExecution]) -> Vec<Cell> {
    let position: HashMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(index, stage)| (stage.ref_id.as_str(), index))
        .collect();
    let mut depth = vec![0usize; stages.len()];
    for _ in 0..stages.len() {
        let mut changed = false;
        for (index, stage) in stages.iter().enumerate() {
            let wanted = stage
                .requisite_stage_ref_ids
                .iter()
                .filter_map(|requisite| position.get(requisite.as_str()))
                .map(|&parent| depth[parent] + 1)
                .max()
                .unwrap_or(0)
                .min(stages.len());
            if wanted != depth[index] {
                depth[index] = wanted;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut rows_used: HashMap<usize, usize> = HashMap::new();
    depth
        .iter()
        .map(|&column| {
            let row = rows_used.entry(column).or_insert(0);
            let cell = Cell { column, row: *row };
            *row += 1;
            cell
        })
        .collect()
}

fn origin(cell: Cell) -> (i64, i64) {
    (
        MARGIN + cell.column as i64 * (NODE_WIDTH + COLUMN_GAP),
        MARGIN + cell.row as i64 * (NODE_HEIGHT + ROW_GAP),
    )
}

/// The SVG; each box links to `?stage=<refId>` and the `selected` one is outlined.
pub fn draw(stages: &[&StageExecution], execution_href: &str, selected: Option<&str>) -> Markup {
    let cells = layout(stages);
    let columns = cells.iter().map(|cell| cell.column + 1).max().unwrap_or(1) as i64;
    let rows = cells.iter().map(|cell| cell.row + 1).max().unwrap_or(1) as i64;
    let width = 2 * MARGIN + columns * NODE_WIDTH + (columns - 1) * COLUMN_GAP;
    let height = 2 * MARGIN + rows * NODE_HEIGHT + (rows - 1) * ROW_GAP;
    let position: HashMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(index, stage)| (stage.ref_id.as_str(), index))
        .collect();
    let now = now_millis();
    html! {
        svg.graph xmlns="http://www.w3.org/2000/svg" role="group" aria-label="Stage graph"
            width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } {
            @for (index, stage) in stages.iter().enumerate() {
                @for parent in stage.requisite_stage_ref_ids.iter().filter_map(|requisite| position.get(requisite.as_str())) {
                    (edge(cells[*parent], cells[index]))
                }
            }
            @for (index, stage) in stages.iter().enumerate() {
                @let (x, y) = origin(cells[index]);
                @let is_selected = selected == Some(stage.ref_id.as_str());
                @let class = format!("node {}{}", format::status_class(stage.status), if is_selected { " selected" } else { "" });
                a href={ (execution_href) "?stage=" (segment(&stage.ref_id)) }
                    aria-label={ (stage.name) ": " (stage.status) }
                    aria-current=[is_selected.then_some("true")] {
                    g class=(class) data-ref-id=(stage.ref_id) {
                        title { (stage.name) " (" (stage.stage_type) "): " (stage.status) }
                        rect x=(x) y=(y) width=(NODE_WIDTH) height=(NODE_HEIGHT) rx="5" {}
                        text.name x=(x + 10) y=(y + 19) { (short(&stage.name)) }
                        text.meta x=(x + 10) y=(y + 36) {
                            (stage.status) " · " (format::duration(stage.start_time, stage.end_time, now))
                        }
                    }
                }
            }
        }
    }
}

fn edge(from: Cell, to: Cell) -> Markup {
    let (x1, y1) = origin(from);
    let (x2, y2) = origin(to);
    let (start_x, start_y) = (x1 + NODE_WIDTH, y1 + NODE_HEIGHT / 2);
    let (end_x, end_y) = (x2, y2 + NODE_HEIGHT / 2);
    let bend = (end_x - start_x) / 2;
    html! {
        path.edge d={ "M" (start_x) "," (start_y) " C" (start_x + bend) "," (start_y) " " (end_x - bend) "," (end_y) " " (end_x) "," (end_y) } {}
    }
}

fn short(name: &str) -> String {
    if name.chars().count() <= NAME_CHARS {
        name.to_string()
    } else {
        let kept: String = name.chars().take(NAME_CHARS - 1).collect();
        format!("{kept}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gennaker_model::ExecutionStatus;

    fn stage(ref_id: &str, requisites: &[&str]) -> StageExecution {
        serde_json::from_value(serde_json::json!({
            "id": format!("s{ref_id}"), "refId": ref_id, "type": "wait", "name": ref_id,
            "status": ExecutionStatus::NotStarted, "requisiteStageRefIds": requisites,
        }))
        .expect("a stage")
    }

    #[test]
    fn columns_follow_the_longest_chain_and_rows_never_collide() {
        let stages = [
            stage("1", &[]),
            stage("2", &["1"]),
            stage("3", &["1"]),
            stage("4", &["2", "3"]),
            stage("5", &["1", "4"]),
        ];
        let refs: Vec<&StageExecution> = stages.iter().collect();
        let cells = layout(&refs);
        let columns: Vec<usize> = cells.iter().map(|cell| cell.column).collect();
        assert_eq!(columns, [0, 1, 1, 2, 3]);
        assert_eq!(cells[1].row, 0);
        assert_eq!(cells[2].row, 1);
        let mut seen = std::collections::HashSet::new();
        assert!(
            cells
                .iter()
                .all(|cell| seen.insert((cell.column, cell.row)))
        );
    }

    #[test]
    fn a_cycle_or_unknown_requisite_still_lays_out() {
        let stages = [stage("a", &["b"]), stage("b", &["a"]), stage("c", &["zzz"])];
        let refs: Vec<&StageExecution> = stages.iter().collect();
        let cells = layout(&refs);
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[2].column, 0);
        assert!(cells.iter().all(|cell| cell.column <= 3));
    }

    #[test]
    fn long_names_are_shortened_in_the_box() {
        assert_eq!(short("deploy"), "deploy");
        assert_eq!(short(&"x".repeat(40)).chars().count(), NAME_CHARS);
    }
}

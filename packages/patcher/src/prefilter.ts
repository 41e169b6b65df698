import { filterBitsPerEntry, type BlockIndex, type WeakSumTable } from '@gosync/index';
import { WeakScanner, WeakSumFilter } from '@gosync/rollsum';

/** Adds to a filter the weak sums of the blocks still looked for (see BlockScan.addWantedSums). @internal */
export type AddWantedSums = (filter: WeakSumFilter) => void;

/**
 * The rolling scanner of one set of matches, with a prefilter kept to the weak sums still looked
 * for.
 *
 * The index's filter holds every block's sum. Once a block is found, a window with its sum is a
 * hit the scan only looks up to let go of again; in some data that is most windows (on the 557 MB
 * swc pair, 0.59 M of 1.1 M hits, and one 2 MB table region of a binary where every seventh
 * window has the sum of a block found earlier: 0.28 M hits, 60 ms). Such hits are counted, and
 * after {@link ScanPrefilter.threshold} of them the scanner switches to a filter built from the
 * blocks still wanted, the same size as the index's. Building it costs about as much as the hits
 * it waited for (2 ms for 136 000 blocks, against 1.7 ms for 8 500 hits), so a refresh at most
 * doubles what those hits cost. A
 * scan that starts after many blocks were found elsewhere (the re-scans after a parallel scan,
 * the next seed) gets a fresh filter at once.
 *
 * It only changes which windows reach the scan's lookup, never what the lookup decides: a window
 * whose sum belongs to found blocks alone matches nothing either way, so the result is the same.
 * The scanner is made once and reset for every scan: making one (a WebAssembly instance and a
 * copy of the filter) costs about 1 ms, which a re-scan of a few kilobytes would otherwise pay.
 *
 * @internal
 */
export class ScanPrefilter {
  /**
   * Hits on found blocks' sums alone that make a refresh worth its cost: such a hit costs about
   * 0.2 µs (on the swc pair, 283 000 of them took 60 ms), a refresh 15 ns per block.
   */
  readonly threshold: number;
  readonly #index: BlockIndex;
  readonly #table: WeakSumTable;
  #filter: WeakSumFilter;
  /** The filter of the blocks still wanted, once a rebuild has made it. */
  #own: WeakSumFilter | undefined;
  #scanner: WeakScanner | undefined;
  #hits = 0;
  /** Blocks found when the filter was last built (0: the index's filter, built before any). */
  #foundAtBuild = 0;
  /** See {@link ScanPrefilter.hold}: 'held' until the first scan's start, then 'kept'. */
  #hold: 'no' | 'held' | 'kept' = 'no';

  /**
   * @param index - the index scanned
   * @param table - its weak-sum table, whose filter comes first
   * @param threshold - hits before a refresh (default: a sixteenth of the blocks, at least 1024)
   */
  constructor(index: BlockIndex, table: WeakSumTable, threshold: number = Math.max(1024, index.count >>> 4)) {
    this.#index = index;
    this.#table = table;
    this.#filter = table.filter;
    this.threshold = threshold;
  }

  /** The filter in use. */
  get filter(): WeakSumFilter {
    return this.#filter;
  }

  /**
   * The scanner, reset to offset 0 for a new stretch of seed, with a filter rebuilt first when
   * `found` (blocks found so far) grew by more than a sixty-fourth of the blocks since the last
   * build.
   */
  scanner(wanted: AddWantedSums, found: number): WeakScanner {
    if (this.#hold !== 'kept' && found - this.#foundAtBuild > Math.max(64, this.#index.count >>> 6)) this.#rebuild(wanted, found);
    if (this.#hold === 'held') this.#hold = 'kept';
    if (this.#scanner === undefined) {
      this.#scanner = new WeakScanner({ windowSize: this.#index.blockSize, filter: this.#filter });
    } else {
      this.#scanner.reset();
      if (this.#scanner.filter !== this.#filter) this.#scanner.useFilter(this.#filter);
    }
    return this.#scanner;
  }

  /**
   * Goes back to the index's filter, for a scan with new matches (nothing found yet): a thread
   * of a parallel scan keeps one scanner for all the sections it scans (a scanner's memory holds
   * the filter and a piece of the seed, 3.5 MB on the swc index).
   */
  restart(): void {
    this.#filter = this.#table.filter;
    this.#hits = 0;
    this.#foundAtBuild = 0;
    this.#hold = 'no';
  }

  /**
   * For scans that each start from the same matches and are taken back after (the shares of
   * re-scans a thread claims, see Matches.takeLog): goes back to the index's filter, lets the
   * next scan rebuild it at its start (for the matches as they are then), and keeps that filter,
   * with no rebuild and no refresh, until {@link ScanPrefilter.restart}. A filter rebuilt in the
   * middle of a share would leave out the blocks that share found, which the next share, back
   * at the same start, still looks for: it would not find them, and what a share finds would
   * depend on which thread took which share before it.
   */
  hold(): void {
    this.restart();
    this.#hold = 'held';
  }

  /**
   * Counts a hit whose sum belongs only to blocks no longer `wanted`; after enough of them,
   * switches the scanner to a filter of the sums of the blocks still wanted.
   */
  onStaleHit(wanted: AddWantedSums, found: number): void {
    if (this.#hold !== 'no' || ++this.#hits < this.threshold) return;
    this.#rebuild(wanted, found);
    this.#scanner?.useFilter(this.#filter);
  }

  #rebuild(wanted: AddWantedSums, found: number): void {
    // One filter of its own, made at the first rebuild and cleared for the next ones: a new one
    // each time cost 6–14 ms instead of 2–3 at the start of a parallel scan's re-scans, both
    // threads asking the system for fresh pages at once. The scanner copies it again (its
    // version changed).
    const filter = this.#own?.clear() ?? new WeakSumFilter(this.#index.count, { mask: this.#table.filter.mask, bitsPerEntry: filterBitsPerEntry(this.#table.size) });
    this.#own = filter;
    wanted(filter);
    this.#filter = filter;
    this.#hits = 0;
    this.#foundAtBuild = found;
  }
}

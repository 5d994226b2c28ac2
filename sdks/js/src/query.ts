import type { Context } from "./context.js";
import type { Document, DocumentData } from "./documents.js";
import type { SnapshotListener, Unsubscribe, ErrorListener, QuerySnapshot } from "./realtime.js";

export type Op =
  | "=="
  | "!="
  | "<"
  | "<="
  | ">"
  | ">="
  | "in"
  | "not-in"
  | "array-contains"
  | "array-contains-any"
  | "exists";

/** The REST query's filter syntax, as sent. */
export type Filter = { field: string; op: Op; value: unknown } | { and: Filter[] } | { or: Filter[] };

export const where = (field: string, op: Op, value: unknown): Filter => ({ field, op, value });
export const and = (...filters: Filter[]): Filter => ({ and: filters });
export const or = (...filters: Filter[]): Filter => ({ or: filters });

export interface OrderBy {
  field: string;
  direction: "asc" | "desc";
}

export interface QueryPage<T = DocumentData> {
  docs: Document<T>[];
  /** Pass to `startAfter` for the next page; null on the last one. */
  nextCursor: string | null;
}

export interface Aggregates {
  count?: number;
  sum?: number;
  avg?: number | null;
}

interface QueryState {
  filters: Filter[];
  orderBy: OrderBy[];
  limit?: number;
  cursor?: string;
  select?: string[];
}

/**
 * A query, built by chaining; every step returns a new query, so one can be reused as the
 * base of others. Its JSON is the REST query body (docs/documents.md).
 */
export class Query<T = DocumentData> {
  constructor(
    protected readonly ctx: Context,
    readonly collection: string,
    protected readonly state: QueryState = { filters: [], orderBy: [] },
  ) {}

  where(field: string, op: Op, value: unknown): Query<T>;
  where(filter: Filter): Query<T>;
  where(fieldOrFilter: string | Filter, op?: Op, value?: unknown): Query<T> {
    const filter = typeof fieldOrFilter === "string" ? where(fieldOrFilter, op as Op, value) : fieldOrFilter;
    return this.with({ filters: [...this.state.filters, filter] });
  }

  orderBy(field: string, direction: "asc" | "desc" = "asc"): Query<T> {
    return this.with({ orderBy: [...this.state.orderBy, { field, direction }] });
  }

  limit(count: number): Query<T> {
    return this.with({ limit: count });
  }

  /** Return only these fields of `data` (dotted paths). */
  select(...fields: string[]): Query<T> {
    return this.with({ select: fields });
  }

  /** Continue after a page: pass the page's `nextCursor`. */
  startAfter(cursor: string | null): Query<T> {
    return this.with({ cursor: cursor ?? undefined });
  }

  /** The filter, or undefined for none: one clause as itself, several under `and`. */
  filter(): Filter | undefined {
    const { filters } = this.state;
    return filters.length === 0 ? undefined : filters.length === 1 ? filters[0] : { and: filters };
  }

  toJSON(): Record<string, unknown> {
    const body: Record<string, unknown> = {};
    const filter = this.filter();
    if (filter) body.where = filter;
    if (this.state.orderBy.length) body.orderBy = this.state.orderBy;
    if (this.state.limit !== undefined) body.limit = this.state.limit;
    if (this.state.cursor !== undefined) body.cursor = this.state.cursor;
    if (this.state.select) body.select = this.state.select;
    return body;
  }

  async get(): Promise<QueryPage<T>> {
    const answer = await this.ctx.http.request<{ documents: Document<T>[]; nextCursor: string | null }>(
      "POST",
      `/collections/${encodeURIComponent(this.collection)}/query`,
      { body: this.toJSON() },
    );
    return { docs: answer.documents, nextCursor: answer.nextCursor ?? null };
  }

  /** Every page in turn, following `nextCursor` until the last. */
  async *pages(): AsyncGenerator<QueryPage<T>> {
    let query: Query<T> = this;
    for (;;) {
      const page = await query.get();
      yield page;
      if (!page.nextCursor) return;
      query = query.startAfter(page.nextCursor);
    }
  }

  /** Every matching document, page after page: `for await (const doc of query) …`. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Document<T>> {
    for await (const page of this.pages()) yield* page.docs;
  }

  /** Every matching document in one array (mind the size). */
  async all(): Promise<Document<T>[]> {
    const docs: Document<T>[] = [];
    for await (const doc of this) docs.push(doc);
    return docs;
  }

  async aggregate(spec: { count?: boolean; sum?: string; avg?: string }): Promise<Aggregates> {
    const body: Record<string, unknown> = { ...this.toJSON(), aggregate: spec };
    delete body.limit;
    delete body.cursor;
    const answer = await this.ctx.http.request<{ aggregates: Aggregates }>(
      "POST",
      `/collections/${encodeURIComponent(this.collection)}/query`,
      { body },
    );
    return answer.aggregates;
  }

  async count(): Promise<number> {
    return (await this.aggregate({ count: true })).count as number;
  }

  async sum(field: string): Promise<number> {
    return (await this.aggregate({ sum: field })).sum as number;
  }

  async avg(field: string): Promise<number | null> {
    return (await this.aggregate({ avg: field })).avg ?? null;
  }

  /**
   * Follow the matching documents live (the filter only: ordering and limits are not
   * part of subscriptions). The first call has the current results; each later one the
   * changes since. Reconnects and resumes by itself.
   */
  onSnapshot(listener: SnapshotListener<QuerySnapshot<T>>, onError?: ErrorListener): Unsubscribe {
    return this.ctx.realtime.listen<QuerySnapshot<T>>({ collection: this.collection, where: this.filter() }, listener as never, onError);
  }

  protected with(changes: Partial<QueryState>): Query<T> {
    return new Query<T>(this.ctx, this.collection, { ...this.state, ...changes });
  }
}

import { apiError, DEFAULT_PAGE_LIMIT, type PageQuery } from '@dagproc/shared/schemas/api';
import type { Page } from '../../db/queries/api-common.ts';

/** An answer of `{ detail }`: a 404, a 409, ... */
export const errorResponse = (description: string) => ({ description, schema: apiError });

/** A query's limit and offset with Airflow's defaults filled in. */
export const pageOf = (query: PageQuery): Page => ({ limit: query.limit ?? DEFAULT_PAGE_LIMIT, offset: query.offset ?? 0 });

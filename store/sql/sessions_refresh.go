package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/caddyauth/gateway/store"
)

// AdvanceRefresh moves a live session's refresh generation from gen to
// gen+1 in one conditional UPDATE, so two refreshes with one token cannot
// both win (see store.SessionStore). When no row changed, a second read
// tells a used generation (ErrConflict) from a gone session.
func (d *DB) AdvanceRefresh(ctx context.Context, id string, gen uint64) error {
	now := ms(time.Now())
	res, err := d.db.ExecContext(ctx,
		d.q(`UPDATE sessions SET refresh_gen = refresh_gen + 1 WHERE id = ? AND refresh_gen = ? AND `+liveAt),
		id, int64(gen), now, now)
	err = oneRow(res, err)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return d.wrap("advance refresh", err)
	}
	if _, err := d.GetSession(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("sqlstore: advance refresh: %w", store.ErrConflict)
}

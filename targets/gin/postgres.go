package main

// Database mode (STORE=postgres): users and orders in PostgreSQL through a pgxpool.Pool,
// with the statements targets/CONTRACT.md prescribes (pgx prepares and caches each one
// per connection by default).

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// dbTimeout bounds each database operation of a request, the wait for a pool connection
// included, so a request never hangs on a database that is down.
const dbTimeout = 3 * time.Second

const (
	selectUser  = `SELECT id, name, email FROM users WHERE id = $1`
	insertOrder = `INSERT INTO orders (user_id, total, status, created_at) VALUES ($1, $2, 'created', $3) RETURNING id`
	insertItems = `INSERT INTO order_items (order_id, position, product_id, quantity, price) ` +
		`SELECT $1, t.position, t.product_id, t.quantity, t.price ` +
		`FROM unnest($2::bigint[], $3::bigint[], $4::float8[]) WITH ORDINALITY ` +
		`AS t(product_id, quantity, price, position)`
	selectOrders = `SELECT o.id, o.total, o.status, o.created_at, i.product_id, i.quantity, i.price ` +
		`FROM (SELECT id, total, status, created_at FROM orders WHERE user_id = $1 ` +
		`ORDER BY id DESC LIMIT 16) AS o ` +
		`JOIN order_items AS i ON i.order_id = o.id ORDER BY o.id DESC, i.position`
)

// pgStore keeps users and orders in PostgreSQL.
type pgStore struct {
	pool *pgxpool.Pool
}

// parseDatabaseURL checks DATABASE_URL and sizes the pool; the error names the variable.
func parseDatabaseURL(url string, maxConns int32) (*pgxpool.Config, error) {
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return nil, fmt.Errorf("DATABASE_URL must be a postgres:// URL, got '%s'", url)
	}
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL '%s': %v", url, err)
	}
	config.MaxConns = maxConns
	return config, nil
}

// newPgStore opens the pool and checks that the database answers, so an unreachable one
// fails at startup.
func newPgStore(config *pgxpool.Config) (*pgStore, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		// pgx puts each address it tried on a line of its own; the message stays one line.
		reason := strings.ReplaceAll(strings.ReplaceAll(err.Error(), "\n\t", "; "), "\n", " ")
		return nil, fmt.Errorf("cannot connect to the database (DATABASE_URL): %s", reason)
	}
	return &pgStore{pool: pool}, nil
}

// bigint converts a request's u64 to the BIGINT the column holds, or names the field.
func bigint(value uint64, field string) (int64, error) {
	if value > math.MaxInt64 {
		return 0, &invalidOrderError{fmt.Sprintf("%s %d does not fit the database's BIGINT (max %d)",
			field, value, int64(math.MaxInt64))}
	}
	return int64(value), nil
}

// checkItems refuses the items Create would refuse, for a user service that forwards
// them to its order service instead of storing them.
func (s *pgStore) checkItems(items []OrderItem) error {
	for _, item := range items {
		if _, err := bigint(item.ProductID, "product_id"); err != nil {
			return err
		}
	}
	return nil
}

func (s *pgStore) User(ctx context.Context, id int64) (*user, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	var found user
	err := s.pool.QueryRow(ctx, selectUser, id).Scan(&found.ID, &found.Name, &found.Email)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &found, nil
}

func (s *pgStore) OrdersOf(ctx context.Context, userID uint64) ([]Order, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, selectOrders, int64(userID))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	orders := []Order{}
	for rows.Next() {
		var order Order
		var item OrderItem
		var productID int64
		err := rows.Scan(&order.ID, &order.Total, &order.Status, &order.CreatedAt,
			&productID, &item.Quantity, &item.Price)
		if err != nil {
			return nil, err
		}
		item.ProductID = uint64(productID)
		// Rows come ordered by order id, then position: one order's items are adjacent.
		if last := len(orders) - 1; last >= 0 && orders[last].ID == order.ID {
			orders[last].Items = append(orders[last].Items, item)
			continue
		}
		order.UserID = userID
		order.Items = []OrderItem{item}
		orders = append(orders, order)
	}
	return orders, rows.Err()
}

func (s *pgStore) Create(ctx context.Context, userID uint64, items []OrderItem, total float64) (Order, error) {
	// Everything is checked before the transaction starts, so a bad item writes nothing.
	user, err := bigint(userID, "user_id")
	if err != nil {
		return Order{}, err
	}
	productIDs := make([]int64, len(items))
	quantities := make([]int64, len(items))
	prices := make([]float64, len(items))
	for i, item := range items {
		if productIDs[i], err = bigint(item.ProductID, "product_id"); err != nil {
			return Order{}, err
		}
		quantities[i] = item.Quantity
		prices[i] = item.Price
	}
	order := Order{UserID: userID, Items: items, Total: total, Status: "created", CreatedAt: time.Now().UnixMilli()}

	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Order{}, err
	}
	// A no-op after Commit; otherwise nothing of the order stays behind.
	defer tx.Rollback(ctx)
	var id int64
	if err := tx.QueryRow(ctx, insertOrder, user, total, order.CreatedAt).Scan(&id); err != nil {
		return Order{}, err
	}
	if _, err := tx.Exec(ctx, insertItems, id, productIDs, quantities, prices); err != nil {
		return Order{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Order{}, err
	}
	order.ID = uint64(id)
	return order, nil
}

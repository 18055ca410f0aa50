package main

// The in-memory order store: one per process, shared by all goroutines behind a mutex,
// keeping at most ordersPerUser orders per user, newest first.

import (
	"sync"
	"time"
)

const ordersPerUser = 16

// OrderItem is one order line, as stored and returned.
type OrderItem struct {
	ProductID uint64  `json:"product_id"`
	Quantity  int64   `json:"quantity"`
	Price     float64 `json:"price"`
}

// Order is a created order, as returned by POST /api/orders and GET /api/users/:id/orders.
type Order struct {
	ID        uint64      `json:"id"`
	UserID    uint64      `json:"user_id"`
	Items     []OrderItem `json:"items"`
	Total     float64     `json:"total"`
	Status    string      `json:"status"`
	CreatedAt int64       `json:"created_at"`
}

type orderStore struct {
	mu     sync.Mutex
	lastID uint64
	byUser map[uint64][]Order
}

func newOrderStore() *orderStore {
	return &orderStore{byUser: make(map[uint64][]Order)}
}

// create assigns the next id and stores the order; id assignment and insertion share
// one lock so a user's list is always in id order.
func (s *orderStore) create(userID uint64, items []OrderItem, total float64) Order {
	order := Order{
		UserID:    userID,
		Items:     items,
		Total:     total,
		Status:    "created",
		CreatedAt: time.Now().UnixMilli(),
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	order.ID = s.lastID
	old := s.byUser[userID]
	kept := len(old)
	if kept > ordersPerUser-1 {
		kept = ordersPerUser - 1
	}
	// A fresh slice each time: readers may still hold the previous one.
	fresh := make([]Order, 0, kept+1)
	fresh = append(fresh, order)
	fresh = append(fresh, old[:kept]...)
	s.byUser[userID] = fresh
	return order
}

// forUser returns the user's orders, newest first. The returned slice is never
// modified afterwards, so it can be serialized without holding the lock.
func (s *orderStore) forUser(userID uint64) []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	orders := s.byUser[userID]
	if orders == nil {
		return []Order{}
	}
	return orders
}

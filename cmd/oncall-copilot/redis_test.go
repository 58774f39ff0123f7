package main

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func redisReachable(url string) bool {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return false
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err() == nil
}

func cleanRedis(t *testing.T, url, prefix string) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
}

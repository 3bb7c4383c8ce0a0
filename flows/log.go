package flows

import "go.uber.org/zap"

func zapOp(op string) zap.Field   { return zap.String("op", op) }
func zapErr(err error) zap.Field  { return zap.Error(err) }
func zapUser(id string) zap.Field { return zap.String("user_id", id) }
func zapIP(ip string) zap.Field   { return zap.String("client_ip", ip) }

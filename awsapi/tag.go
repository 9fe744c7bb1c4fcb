package awsapi

import (
	"context"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/model"
)

func (s *Server) tagResource(ctx context.Context, body []byte) (any, error) {
	var req model.TagResourceRequest
	if err := decode("TagResource", body, &req); err != nil {
		return nil, err
	}
	name, err := s.appFromARN(req.ResourceARN)
	if err != nil {
		return nil, err
	}
	add, err := tagsFromModel(req.Tags)
	if err != nil {
		return nil, err
	}
	err = s.Store.Update(ctx, func(tx flinkplane.Tx) error {
		if _, err := tx.Application(name); err != nil {
			return err
		}
		cur, err := tx.Tags(name)
		if err != nil {
			return err
		}
		m := map[string]string{}
		for _, t := range cur {
			m[t.Key] = t.Value
		}
		for _, t := range add {
			m[t.Key] = t.Value
		}
		if len(m) > flinkplane.MaxTags {
			return flinkplane.Errorf(flinkplane.ETOOMANYTAGS, "Application %s would have %d tags; at most %d are allowed.", name, len(m), flinkplane.MaxTags)
		}
		var out []flinkplane.Tag
		for k, v := range m {
			out = append(out, flinkplane.Tag{Key: k, Value: v})
		}
		sortTags(out)
		return tx.SetTags(name, out)
	})
	if err != nil {
		return nil, err
	}
	return &model.TagResourceResponse{}, nil
}

func (s *Server) untagResource(ctx context.Context, body []byte) (any, error) {
	var req model.UntagResourceRequest
	if err := decode("UntagResource", body, &req); err != nil {
		return nil, err
	}
	name, err := s.appFromARN(req.ResourceARN)
	if err != nil {
		return nil, err
	}
	err = s.Store.Update(ctx, func(tx flinkplane.Tx) error {
		if _, err := tx.Application(name); err != nil {
			return err
		}
		cur, err := tx.Tags(name)
		if err != nil {
			return err
		}
		drop := map[string]bool{}
		for _, k := range req.TagKeys {
			drop[k] = true
		}
		var out []flinkplane.Tag
		for _, t := range cur {
			if !drop[t.Key] {
				out = append(out, t)
			}
		}
		return tx.SetTags(name, out)
	})
	if err != nil {
		return nil, err
	}
	return &model.UntagResourceResponse{}, nil
}

func (s *Server) listTagsForResource(ctx context.Context, body []byte) (any, error) {
	var req model.ListTagsForResourceRequest
	if err := decode("ListTagsForResource", body, &req); err != nil {
		return nil, err
	}
	name, err := s.appFromARN(req.ResourceARN)
	if err != nil {
		return nil, err
	}
	var tags []flinkplane.Tag
	if err := s.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		if _, err = tx.Application(name); err != nil {
			return err
		}
		tags, err = tx.Tags(name)
		return err
	}); err != nil {
		return nil, err
	}
	resp := &model.ListTagsForResourceResponse{Tags: []model.Tag{}}
	for _, t := range tags {
		resp.Tags = append(resp.Tags, model.Tag{Key: t.Key, Value: model.Ptr(t.Value)})
	}
	return resp, nil
}
